"""The job record and its lifecycle: pure values, no storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


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
class OutputInfo:
    """Where a finished render lives. ``key`` is the storage key; ``s3_uri`` is None locally."""

    key: str
    duration_s: float
    size_bytes: int
    s3_uri: str | None = None


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

    @property
    def job_info(self) -> dict[str, Any] | None:
        return self.spec.get("jobInfo")


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None
