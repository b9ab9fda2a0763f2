"""Stored templates and batches: pure values, no storage.

A batch is one request that rendered a template for many rows. Each row is a job; the batch keeps,
per row, the id of its current job and a coarse status (``submitted`` until a worker claims the
job, ``processing`` while it runs or waits for a retry, then ``completed``, ``failed`` or
``cancelled``). A row moves only forward (or, on a retry of the batch, from ``failed`` back to
``submitted`` with a new job), and every move adjusts the batch's counters in the same atomic
write, so the counters stay exact however many workers report at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from autovid.jobs.model import JobStatus, isoformat, parse_time, utcnow


class RowStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in ENDED

    @staticmethod
    def of_job(status: JobStatus) -> RowStatus:
        """A job's status as its row's: a job waiting for a retry is still being processed."""
        if status == JobStatus.RETRYING:
            return RowStatus.PROCESSING
        return RowStatus(status.value)


ENDED = frozenset({RowStatus.COMPLETED, RowStatus.FAILED, RowStatus.CANCELLED})
# Where a row may come from when it moves to a status (a retry takes failed rows back).
ALLOWED_FROM: dict[RowStatus, frozenset[RowStatus]] = {
    RowStatus.SUBMITTED: frozenset({RowStatus.FAILED}),
    RowStatus.PROCESSING: frozenset({RowStatus.SUBMITTED}),
    RowStatus.COMPLETED: frozenset({RowStatus.SUBMITTED, RowStatus.PROCESSING}),
    RowStatus.FAILED: frozenset({RowStatus.SUBMITTED, RowStatus.PROCESSING}),
    RowStatus.CANCELLED: frozenset({RowStatus.SUBMITTED, RowStatus.PROCESSING}),
}


@dataclass(frozen=True)
class StoredTemplate:
    """One version of an owner's template; ``document`` is the template JSON as sent."""

    template_id: str
    owner: str
    version: int
    document: dict[str, Any]
    created_at: datetime = field(default_factory=utcnow)  # of the template (version 1)
    updated_at: datetime = field(default_factory=utcnow)  # of this version

    @property
    def name(self) -> str | None:
        name = self.document.get("name")
        return name if isinstance(name, str) else None

    def as_document(self) -> dict[str, Any]:
        return {
            "templateId": self.template_id,
            "version": self.version,
            "name": self.name,
            "createdAt": isoformat(self.created_at),
            "updatedAt": isoformat(self.updated_at),
            "template": self.document,
        }


@dataclass(frozen=True)
class Counts:
    total: int = 0
    submitted: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "submitted": self.submitted,
            "processing": self.processing,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class BatchRow:
    row: int  # 0-based index in the request's rows (the CSV's first data line is row 0)
    job_id: str
    status: RowStatus = RowStatus.SUBMITTED
    attempt: int = 1  # 1 for the first job, +1 for every retry of the batch


@dataclass(frozen=True)
class Batch:
    batch_id: str
    owner: str
    template_id: str | None  # None for an inline template
    template_version: int | None
    counts: Counts
    notifications: dict[str, Any] | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None  # of the request, to tell a repeat from a reuse of its key
    cancel_requested: bool = False
    # True once every row's job is stored and queued; a repeated request (same Idempotency-Key)
    # for a batch whose acceptance was cut short finishes it.
    accepted: bool = False
    # Which retry round the batch is in, and the round whose end the webhook announced: the
    # webhook goes out once per round, when its last row ends.
    round: int = 1
    notified_round: int = 0
    webhook_delivery: dict[str, Any] | None = None
    submitted_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    expires_at: int | None = None

    @property
    def status(self) -> str:
        counts = self.counts
        if counts.ended < counts.total:
            if self.cancel_requested:
                return "cancelling"
            return "submitted" if counts.submitted == counts.total else "processing"
        if self.cancel_requested and counts.cancelled:
            return "cancelled"
        return "failed" if counts.failed or counts.cancelled else "completed"

    @property
    def percent(self) -> float:
        total = self.counts.total
        return round(100.0 * self.counts.ended / total, 1) if total else 100.0


def batch_to_record(batch: Batch) -> dict[str, Any]:
    """The batch's fields as plain JSON values (counters apart: stores keep them as numbers)."""
    return {
        "batchId": batch.batch_id,
        "owner": batch.owner,
        "templateId": batch.template_id,
        "templateVersion": batch.template_version,
        "notifications": batch.notifications,
        "idempotencyKey": batch.idempotency_key,
        "fingerprint": batch.fingerprint,
        "cancelRequested": batch.cancel_requested,
        "accepted": batch.accepted,
        "round": batch.round,
        "notifiedRound": batch.notified_round,
        "webhookDelivery": batch.webhook_delivery,
        "submittedAt": isoformat(batch.submitted_at),
        "updatedAt": isoformat(batch.updated_at),
        "expiresAt": batch.expires_at,
    }


def batch_from_record(record: dict[str, Any], counts: Counts) -> Batch:
    return Batch(
        batch_id=record["batchId"],
        owner=record["owner"],
        template_id=record.get("templateId"),
        template_version=record.get("templateVersion"),
        counts=counts,
        notifications=record.get("notifications"),
        idempotency_key=record.get("idempotencyKey"),
        fingerprint=record.get("fingerprint"),
        cancel_requested=bool(record.get("cancelRequested", False)),
        accepted=bool(record.get("accepted", False)),
        round=int(record.get("round", 1)),
        notified_round=int(record.get("notifiedRound", 0)),
        webhook_delivery=record.get("webhookDelivery"),
        submitted_at=parse_time(record.get("submittedAt")) or utcnow(),
        updated_at=parse_time(record.get("updatedAt")) or utcnow(),
        expires_at=record.get("expiresAt"),
    )


def template_to_record(template: StoredTemplate) -> dict[str, Any]:
    return {
        "templateId": template.template_id,
        "owner": template.owner,
        "version": template.version,
        "document": template.document,
        "createdAt": isoformat(template.created_at),
        "updatedAt": isoformat(template.updated_at),
    }


def template_from_record(record: dict[str, Any]) -> StoredTemplate:
    return StoredTemplate(
        template_id=record["templateId"],
        owner=record["owner"],
        version=int(record["version"]),
        document=record["document"],
        created_at=parse_time(record.get("createdAt")) or utcnow(),
        updated_at=parse_time(record.get("updatedAt")) or utcnow(),
    )
