"""The job service: submit, read, list and cancel jobs, and the status document (docs/API.md).

Used by the HTTP API (embedded and on Lambda) and the CLI; knows only the ports.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from autovid.assets.ownership import SourceRules, missing_message
from autovid.config import Settings
from autovid.errors import (
    AutovidError,
    ConflictError,
    ErrorDetail,
    JobNotFoundError,
    SpecError,
    StorageError,
    TransientStorageError,
)
from autovid.jobs.model import Job, JobStatus, isoformat, utcnow
from autovid.ports import BlobStore, JobQueue, JobStore
from autovid.spec.models import JobSpec
from autovid.spec.validation import parse_spec

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_CHARS = 255
_CANCEL_ATTEMPTS = 5


class JobService:
    def __init__(self, store: JobStore, queue: JobQueue, blobs: BlobStore, settings: Settings) -> None:
        self.store = store
        self.queue = queue
        self.blobs = blobs
        self.settings = settings

    def submit(self, raw_spec: dict[str, Any], *, owner: str, idempotency_key: str | None = None) -> Job:
        """Validate, record and enqueue a job. A repeated ``idempotency_key`` for the same owner
        returns the first job and enqueues nothing."""
        spec = parse_spec(raw_spec, self.settings.spec_limits)
        if (too_much := self.settings.render_limits.speech_problem(spec)) is not None:
            raise SpecError([ErrorDetail("timeline", too_much)])
        self._check_sources(spec, owner)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS:
            raise SpecError(
                [ErrorDetail("Idempotency-Key", f"must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters")]
            )
        now = utcnow()
        job = Job(
            job_id=str(uuid.uuid4()),
            owner=owner,
            spec=spec.model_dump(mode="json", by_alias=True, exclude_unset=True),
            submitted_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            expires_at=int(now.timestamp()) + self.settings.jobs_ttl_s,
        )
        stored = self.store.create(job)
        if stored.job_id != job.job_id:
            if stored.spec != job.spec:
                raise ConflictError(
                    f"Idempotency-Key '{idempotency_key}' was already used for job '{stored.job_id}' "
                    "with a different job spec; use a new key for a different job"
                )
            return stored
        try:
            self.queue.send(job.job_id)
        except AutovidError as exc:
            self._fail_unqueued(job, exc)
            raise
        return stored

    def get(self, job_id: str, *, owner: str) -> Job:
        job = self.store.get(job_id)
        if job is None or job.owner != owner:
            raise JobNotFoundError(f"job '{job_id}' not found")
        return job

    def list(
        self, *, owner: str, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        if not 1 <= limit <= 100:
            raise SpecError([ErrorDetail("limit", "must be between 1 and 100")])
        return self.store.list(owner, status=status, limit=limit, cursor=cursor)

    def cancel(self, job_id: str, *, owner: str) -> Job:
        """A queued job is cancelled at once and never renders; a running one is asked to stop
        (``cancel_requested``) and its worker marks it cancelled at the next checkpoint."""
        for _ in range(_CANCEL_ATTEMPTS):
            job = self.get(job_id, owner=owner)
            if job.status == JobStatus.CANCELLED or (job.cancel_requested and not job.status.terminal):
                return job
            if job.status.terminal:
                raise ConflictError(
                    f"job '{job_id}' is already {job.status.value}; only submitted, retrying or "
                    "processing jobs can be cancelled"
                )
            try:
                if job.status == JobStatus.PROCESSING and not job.claim_live():
                    # Its worker died and the lease has not brought the job back yet.
                    return self.store.update(
                        job_id,
                        _cancelled_now(),
                        expect_status=(JobStatus.PROCESSING,),
                        expect={"claim_token": job.claim_token},
                    )
                if job.status == JobStatus.PROCESSING:
                    return self.store.update(
                        job_id, {"cancel_requested": True}, expect_status=(JobStatus.PROCESSING,)
                    )
                return self.store.update(
                    job_id, _cancelled_now(), expect_status=(JobStatus.SUBMITTED, JobStatus.RETRYING)
                )
            except ConflictError:
                continue  # a worker moved the job meanwhile: look again
        raise ConflictError(f"job '{job_id}' kept changing state; try cancelling again")

    def status_document(self, job: Job, *, for_webhook: bool = False) -> dict[str, Any]:
        """What ``GET /status/{jobId}`` returns; with ``for_webhook`` exactly the webhook
        payload (no ``progress``, plus the spec's ``metadata``)."""
        doc: dict[str, Any] = {
            "jobId": job.job_id,
            "status": job.status.value,
            "submittedAt": isoformat(job.submitted_at),
            "updatedAt": isoformat(job.updated_at),
            "completedAt": isoformat(job.completed_at),
            "processingTime": None if job.processing_time_s is None else round(job.processing_time_s, 2),
            "progress": job.progress.as_dict(),
            "output": self._output_document(job),
            "error": job.error if job.status in (JobStatus.FAILED, JobStatus.CANCELLED) else None,
            "jobInfo": job.job_info,
            "warnings": list(job.output.warnings) if job.output else [],
        }
        if for_webhook:
            del doc["progress"]
            doc["metadata"] = webhook_of(job).get("metadata", {}) if webhook_of(job) else {}
        return doc

    # --- helpers -------------------------------------------------------------------------------

    def _output_document(self, job: Job) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "url": None,
            "urlExpiresAt": None,
            "s3Uri": None,
            "duration": None,
            "size": None,
            "audio": None,
            "captions": [],
        }
        if job.output is None:
            return doc
        doc.update(
            s3Uri=job.output.s3_uri,
            duration=round(job.output.duration_s, 3),
            size=job.output.size_bytes,
            audio=job.output.audio,
        )
        if job.status == JobStatus.COMPLETED:
            doc.update(self._signed(job, job.output.key))
            doc["captions"] = [
                {"format": c.format, "language": c.language, **self._signed(job, c.key), "s3Uri": c.s3_uri}
                for c in job.output.captions
            ]
        return doc

    def _signed(self, job: Job, key: str) -> dict[str, str | None]:
        """``url`` and ``urlExpiresAt`` of a stored file (both None when signing fails, so the
        document stays readable)."""
        try:
            url, expires_at = self.blobs.download_url(key, expires_s=self.settings.presigned_url_expiration_s)
        except AutovidError as exc:
            log.warning("cannot sign a URL for job %s: %s", job.job_id, exc)
            return {"url": None, "urlExpiresAt": None}
        return {"url": url, "urlExpiresAt": isoformat(expires_at)}

    def source_rules(self, owner: str) -> SourceRules:
        settings = self.settings
        return SourceRules(owner, settings.s3_buckets_readable, managed_bucket=settings.managed_bucket)

    def _check_sources(self, spec: JobSpec, owner: str) -> None:
        """Every source must be readable by ``owner``: its own managed files, already uploaded,
        or an object of a bucket the operator allows for ``s3://`` sources; https:// URLs are
        vetted when fetched. The destination must be among the owner's outputs."""
        rules = self.source_rules(owner)
        sources = [("assets.video.source", spec.assets.video.source)]
        sources += [(f"assets.audio[{i}].source", a.source) for i, a in enumerate(spec.assets.audio)]
        problems = [
            ErrorDetail(path, problem)
            for path, source in sources
            if (problem := self._source_problem(source, rules)) is not None
        ]
        destination = spec.output.destination
        if destination is not None and (problem := rules.destination_refusal(destination)):
            problems.append(ErrorDetail("output.destination", problem))
        if problems:
            raise SpecError(problems)

    def _source_problem(self, source: str, rules: SourceRules) -> str | None:
        refusal, key = rules.source_refusal(source)
        if refusal is not None or key is None:
            return refusal
        try:
            present = self.blobs.exists(key)
        except StorageError as exc:
            return f"{exc.message}; use the 'source' POST /assets returned"
        return None if present else missing_message(key)

    def _fail_unqueued(self, job: Job, exc: AutovidError) -> None:
        try:
            self.store.update(
                job.job_id,
                {
                    "status": JobStatus.FAILED,
                    "error": f"could not be queued: {exc.message}",
                    "completed_at": utcnow(),
                },
            )
        except AutovidError:
            log.exception("job %s could not be queued nor marked failed", job.job_id)
        if not isinstance(exc, TransientStorageError):
            log.error("queueing job %s failed: %s", job.job_id, exc)


def _cancelled_now() -> dict[str, Any]:
    return {
        "status": JobStatus.CANCELLED,
        "cancel_requested": True,
        "completed_at": utcnow(),
        "error": "cancelled by the client",
        "claim_token": None,
        "claim_expires_at": None,
    }


def webhook_of(job: Job) -> dict[str, Any] | None:
    notifications = job.spec.get("notifications") or {}
    return notifications.get("webhook")


def retry_delay_s(base_delay_s: float, attempt: int, jitter: float = 0.0) -> float:
    """Exponential backoff: ``base * 2**(attempt-1)``, scaled by ``1 + jitter`` (0 <= jitter < 1)."""
    return base_delay_s * (2 ** max(0, attempt - 1)) * (1 + jitter)
