"""The job record and its lifecycle: pure values, no storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from autovid.jobs.holder import holder_gone


class JobStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


# Render stages in the order a job passes them; progress never goes back.
STAGES = ("queued", "fetching", "speech", "mixing", "encoding", "storing", "notifying", "done")


@dataclass(frozen=True)
class Progress:
    stage: str = "queued"
    percent: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "percent": round(self.percent, 1)}


@dataclass(frozen=True)
class CaptionOutput:
    """A stored sidecar subtitle file of a finished render."""

    format: str  # "srt" | "vtt"
    language: str
    key: str
    s3_uri: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {"format": self.format, "language": self.language, "key": self.key, "s3Uri": self.s3_uri}

    @staticmethod
    def from_record(record: dict[str, Any]) -> CaptionOutput:
        return CaptionOutput(record["format"], record["language"], record["key"], record.get("s3Uri"))


@dataclass(frozen=True)
class OutputInfo:
    """Where a finished render lives and what it reported. ``key`` is the storage key; ``s3_uri``
    is None locally; ``audio`` is the loudness report's JSON (``AudioReport.as_dict``);
    ``warnings`` are ``{"code", "message"}`` dicts."""

    key: str
    duration_s: float
    size_bytes: int
    s3_uri: str | None = None
    audio: dict[str, Any] | None = None
    captions: tuple[CaptionOutput, ...] = ()
    warnings: tuple[dict[str, str], ...] = ()


@dataclass
class Job:
    job_id: str
    owner: str  # id of the API key that submitted it
    spec: dict[str, Any]  # the validated spec, as JSON
    status: JobStatus = JobStatus.SUBMITTED
    submitted_at: datetime = field(default_factory=lambda: utcnow())
    updated_at: datetime = field(default_factory=lambda: utcnow())
    started_at: datetime | None = None
    completed_at: datetime | None = None
    processing_time_s: float | None = None
    progress: Progress = Progress()
    output: OutputInfo | None = None
    error: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    webhook_delivery: dict[str, Any] | None = None
    idempotency_key: str | None = None
    expires_at: int | None = None  # epoch seconds after which the record may be deleted (TTL)
    # The worker that holds the job: a token it chose when it claimed the job and the moment its
    # claim lapses unless renewed. A duplicate delivery never takes a job under a live claim.
    claim_token: str | None = None
    claim_expires_at: datetime | None = None
    # The batch row this job renders, when it came from a batch (its moves update the batch).
    batch_id: str | None = None
    batch_row: int | None = None
    claim_holder: str | None = None  # the holding process (autovid.jobs.holder), where known

    @property
    def job_info(self) -> dict[str, Any] | None:
        return self.spec.get("jobInfo")

    def claim_live(self, now: datetime | None = None) -> bool:
        """True while a worker holds a claim on this job that has not lapsed, and its process
        (where this machine can see it) still runs."""
        if self.status != JobStatus.PROCESSING or self.claim_expires_at is None:
            return False
        return self.claim_expires_at > (now or utcnow()) and not holder_gone(self.claim_holder)


# Who a job belongs to, which job (and batch row) it is never change: the stores key their records and the
# owner's listing by them, so a change would leave a job readable by one owner and listed by another.
IMMUTABLE_FIELDS = frozenset({"job_id", "owner", "submitted_at", "batch_id", "batch_row"})


def refuse_immutable_changes(changes: dict[str, Any]) -> None:
    """``ValueError`` when ``changes`` (a ``JobStore.update``) names a field that never changes."""
    fixed = set(changes) & IMMUTABLE_FIELDS
    if fixed:
        raise ValueError(f"job fields {', '.join(sorted(fixed))} cannot change")


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def stage_rank(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else 0


def job_to_record(job: Job) -> dict[str, Any]:
    """The job as plain JSON values (ISO times, enum values): what stores persist."""
    return {
        "jobId": job.job_id,
        "owner": job.owner,
        "spec": job.spec,
        "status": job.status.value,
        "submittedAt": isoformat(job.submitted_at),
        "updatedAt": isoformat(job.updated_at),
        "startedAt": isoformat(job.started_at),
        "completedAt": isoformat(job.completed_at),
        "processingTime": job.processing_time_s,
        "progress": {"stage": job.progress.stage, "percent": job.progress.percent},
        "output": None
        if job.output is None
        else {
            "key": job.output.key,
            "duration": job.output.duration_s,
            "size": job.output.size_bytes,
            "s3Uri": job.output.s3_uri,
            "audio": job.output.audio,
            "captions": [c.as_record() for c in job.output.captions],
            "warnings": list(job.output.warnings),
        },
        "error": job.error,
        "attempts": job.attempts,
        "cancelRequested": job.cancel_requested,
        "webhookDelivery": job.webhook_delivery,
        "idempotencyKey": job.idempotency_key,
        "expiresAt": job.expires_at,
        "claimToken": job.claim_token,
        "claimExpiresAt": isoformat(job.claim_expires_at),
        "batchId": job.batch_id,
        "batchRow": job.batch_row,
        "claimHolder": job.claim_holder,
    }


def job_from_record(record: dict[str, Any]) -> Job:
    """Inverse of ``job_to_record``."""
    output = record.get("output")
    progress = record.get("progress") or {}
    return Job(
        job_id=record["jobId"],
        owner=record["owner"],
        spec=record["spec"],
        status=JobStatus(record["status"]),
        submitted_at=parse_time(record["submittedAt"]) or utcnow(),
        updated_at=parse_time(record["updatedAt"]) or utcnow(),
        started_at=parse_time(record.get("startedAt")),
        completed_at=parse_time(record.get("completedAt")),
        processing_time_s=record.get("processingTime"),
        progress=Progress(progress.get("stage", "queued"), float(progress.get("percent", 0.0))),
        output=None
        if output is None
        else OutputInfo(
            key=output["key"],
            duration_s=float(output["duration"]),
            size_bytes=int(output["size"]),
            s3_uri=output.get("s3Uri"),
            audio=output.get("audio"),
            captions=tuple(CaptionOutput.from_record(c) for c in output.get("captions") or ()),
            warnings=tuple(dict(w) for w in output.get("warnings") or ()),
        ),
        error=record.get("error"),
        attempts=int(record.get("attempts", 0)),
        cancel_requested=bool(record.get("cancelRequested", False)),
        webhook_delivery=record.get("webhookDelivery"),
        idempotency_key=record.get("idempotencyKey"),
        expires_at=record.get("expiresAt"),
        claim_token=record.get("claimToken"),
        claim_expires_at=parse_time(record.get("claimExpiresAt")),
        batch_id=record.get("batchId"),
        batch_row=record.get("batchRow"),
        claim_holder=record.get("claimHolder"),
    )
