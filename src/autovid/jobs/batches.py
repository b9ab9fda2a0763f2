"""Batches: one request renders a template for every row (design: one job per row).

``submit`` checks every row before anything is stored (a dry run stops there), stores the batch
with its rows, then the rows' jobs and their queue messages in bulk. A row's job id is derived
from the batch id, the row and the attempt, so an acceptance cut short and repeated (same
``Idempotency-Key``) stores and queues nothing twice. Workers report each job's moves through
``job_changed``; the batch's counters move with them, and the last row to end sends the batch's
webhook (once per round: a retry of the failed rows starts a new round).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from autovid.config import Settings
from autovid.errors import (
    AutovidError,
    BatchNotFoundError,
    ConflictError,
    ErrorDetail,
    SpecError,
    StorageError,
)
from autovid.jobs.batch_model import Batch, BatchRow, Counts, RowStatus, StoredTemplate
from autovid.jobs.model import Job, JobStatus, isoformat, utcnow
from autovid.jobs.service import MAX_IDEMPOTENCY_KEY_CHARS, JobService
from autovid.jobs.template_service import TemplateService
from autovid.ports import BatchStore, WebhookSender
from autovid.spec.models import Notifications
from autovid.spec.validation import format_path
from autovid.templates import Template, expand_rows, parse_template, rows_from_csv

log = logging.getLogger(__name__)

MAX_ROWS_PAGE = 1000
_SCAN_PAGE = 1000


@dataclass
class BatchRequest:
    """What ``POST /batches`` carries: a stored template (id) or an inline one, and the rows
    (objects, or CSV text whose header names the variables)."""

    template_id: str | None = None
    template: dict[str, Any] | None = None
    rows: list[Any] | None = None
    csv_text: str | None = None
    dry_run: bool = False
    notifications: dict[str, Any] | None = None


@dataclass
class RowProblem:
    row: int
    errors: list[ErrorDetail]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "errors": [_detail(e) for e in self.errors]}


@dataclass
class DryRun:
    total: int
    problems: list[RowProblem] = field(default_factory=list)

    def as_document(self) -> dict[str, Any]:
        return {
            "dryRun": True,
            "total": self.total,
            "valid": self.total - len(self.problems),
            "invalid": len(self.problems),
            "rows": [p.as_dict() for p in self.problems],
        }


class BatchRowsError(SpecError):
    """Rows of a batch are invalid: nothing was stored. ``problems`` lists them row by row."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__([_located(p.row, e) for p in problems for e in p.errors])


@dataclass
class _Prepared:
    template_id: str | None
    version: int | None
    template: Template
    specs: list[dict[str, Any]]
    notifications: dict[str, Any] | None
    fingerprint: str


class BatchService:
    def __init__(
        self,
        batches: BatchStore,
        templates: TemplateService,
        jobs: JobService,
        settings: Settings,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.batches = batches
        self.templates = templates
        self.jobs = jobs
        self.settings = settings
        self.webhooks = webhooks

    # --- submitting ----------------------------------------------------------------------------

    def submit(
        self, request: BatchRequest, *, owner: str, idempotency_key: str | None = None
    ) -> Batch | DryRun:
        """Check every row; with ``dry_run`` report the bad ones and store nothing, else refuse
        the batch when any row is bad (``BatchRowsError``) or store and queue it."""
        _check_idempotency_key(idempotency_key)
        prepared, problems, total = self._prepare(request, owner)
        if request.dry_run:
            return DryRun(total, problems)
        if problems:
            raise BatchRowsError(problems)
        batch = self._new_batch(prepared, owner, idempotency_key)
        rows = [BatchRow(i, row_job_id(batch.batch_id, i, 1)) for i in range(total)]
        stored = self.batches.create(batch, rows)
        if stored.batch_id != batch.batch_id and stored.fingerprint != prepared.fingerprint:
            raise ConflictError(
                f"Idempotency-Key '{idempotency_key}' was already used for batch '{stored.batch_id}' "
                "with other rows or another template; use a new key for a different batch"
            )
        if stored.accepted:
            return stored
        if stored.batch_id == batch.batch_id:
            return self._accept(stored, prepared.specs, [row.job_id for row in rows], resumed=False)
        job_ids = [row_job_id(stored.batch_id, i, 1) for i in range(total)]
        return self._accept(stored, prepared.specs, job_ids, resumed=True)

    def _prepare(self, request: BatchRequest, owner: str) -> tuple[_Prepared, list[RowProblem], int]:
        template_id, version, document = self._template_of(request, owner)
        template = parse_template(document, self.settings.spec_limits)
        rows = self._rows_of(request, template)
        notifications = self._notifications(request.notifications)
        limits = self.settings.spec_limits
        outcomes = expand_rows(template, rows, limits=limits, allow_private=self.settings.allow_private_urls)
        problems = [RowProblem(o.row, list(o.errors)) for o in outcomes if not o.ok]
        specs = [o.spec for o in outcomes if o.ok and o.spec is not None]
        if not problems:
            problems = self._managed_source_problems(specs)
        digest = _fingerprint(template_id, version, document, rows, notifications)
        prepared = _Prepared(template_id, version, template, specs, notifications, digest)
        return prepared, problems, len(rows)

    def _template_of(
        self, request: BatchRequest, owner: str
    ) -> tuple[str | None, int | None, dict[str, Any]]:
        if (request.template_id is None) == (request.template is None):
            raise SpecError([ErrorDetail("templateId", "give either templateId or an inline template")])
        if request.template is not None:
            return None, None, request.template
        stored: StoredTemplate = self.templates.get(str(request.template_id), owner=owner)
        return stored.template_id, stored.version, stored.document

    def _rows_of(self, request: BatchRequest, template: Template) -> list[Any]:
        if request.csv_text is not None:
            rows: list[Any] = rows_from_csv(template, request.csv_text, max_rows=self.settings.batch_max_rows)
        elif isinstance(request.rows, list):
            rows = request.rows
        else:
            raise SpecError([ErrorDetail("rows", "is required: an array of objects of variable values")])
        limit = self.settings.batch_max_rows
        if not rows:
            raise SpecError([ErrorDetail("rows", "has no rows; a batch needs at least one")])
        if len(rows) > limit:
            raise SpecError(
                [
                    ErrorDetail(
                        "rows", f"has {len(rows)} rows; at most {limit} per batch (AUTOVID_BATCH_MAX_ROWS)"
                    )
                ]
            )
        return rows

    def _notifications(self, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        try:
            parsed = Notifications.model_validate(raw, context={"limits": self.settings.spec_limits})
        except ValidationError as exc:
            details = [
                ErrorDetail(
                    format_path(("notifications", *e["loc"])), str(e["msg"]).removeprefix("Value error, ")
                )
                for e in exc.errors()
            ]
            raise SpecError(details) from None
        dumped: dict[str, Any] = parsed.model_dump(mode="json", exclude_unset=True)
        return dumped or None

    def _managed_source_problems(self, specs: Sequence[dict[str, Any]]) -> list[RowProblem]:
        """Managed-storage keys must name uploaded files; each key is looked up once per batch."""
        known: dict[str, str | None] = {}
        problems = []
        for index, raw in enumerate(specs):
            errors = []
            for path, key in _managed_sources(raw):
                if key not in known:
                    known[key] = self._missing_reason(key)
                if known[key] is not None:
                    errors.append(ErrorDetail(f"spec.{path}", str(known[key])))
            if errors:
                problems.append(RowProblem(index, errors))
        return problems

    def _missing_reason(self, key: str) -> str | None:
        try:
            present = self.jobs.blobs.exists(key)
        except StorageError as exc:
            return f"{exc.message}; use a key such as 'assets/music.mp3'"
        return None if present else f"no file '{key}' in managed storage; upload it first (POST /assets)"

    def _new_batch(self, prepared: _Prepared, owner: str, idempotency_key: str | None) -> Batch:
        now = utcnow()
        total = len(prepared.specs)
        return Batch(
            batch_id=str(uuid.uuid4()),
            owner=owner,
            template_id=prepared.template_id,
            template_version=prepared.version,
            counts=Counts(total=total, submitted=total),
            notifications=prepared.notifications,
            idempotency_key=idempotency_key,
            fingerprint=prepared.fingerprint,
            submitted_at=now,
            updated_at=now,
            expires_at=int(now.timestamp()) + self.settings.jobs_ttl_s,
        )

    def _accept(
        self, batch: Batch, specs: Sequence[dict[str, Any]], job_ids: Sequence[str], *, resumed: bool
    ) -> Batch:
        """Store every row's job and queue it; then mark the batch accepted."""
        jobs = [self._row_job(batch, row, spec, job_ids[row]) for row, spec in enumerate(specs)]
        created = self.jobs.store.create_many(jobs)
        to_send = [job.job_id for job in created]
        if resumed:  # jobs stored by the cut-short attempt may not have reached the queue
            fresh = {job.job_id for job in created}
            to_send += [
                j.job_id
                for j in jobs
                if j.job_id not in fresh
                and (stored := self.jobs.store.get(j.job_id)) is not None
                and stored.status == JobStatus.SUBMITTED
            ]
        self.jobs.queue.send_many(to_send)
        return self.batches.update(batch.batch_id, {"accepted": True})

    def _row_job(self, batch: Batch, row: int, spec: dict[str, Any], job_id: str) -> Job:
        now = utcnow()
        return Job(
            job_id=job_id,
            owner=batch.owner,
            spec=spec,
            submitted_at=now,
            updated_at=now,
            expires_at=batch.expires_at,
            batch_id=batch.batch_id,
            batch_row=row,
        )

    # --- reading -------------------------------------------------------------------------------

    def get(self, batch_id: str, *, owner: str) -> Batch:
        batch = self.batches.get(batch_id)
        if batch is None or batch.owner != owner:
            raise BatchNotFoundError(f"batch '{batch_id}' not found")
        return batch

    def document(self, batch: Batch, *, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        """``GET /batches/{id}``: the counts and one page of rows with their jobs' outcomes."""
        if not 1 <= limit <= MAX_ROWS_PAGE:
            raise SpecError([ErrorDetail("limit", f"must be between 1 and {MAX_ROWS_PAGE}")])
        start = _decode_cursor(cursor)
        page = self.batches.rows(batch.batch_id, start=start, limit=limit + 1)
        jobs = self.jobs.store.get_many([row.job_id for row in page[:limit]])
        rows = [self._row_document(row, jobs.get(row.job_id)) for row in page[:limit]]
        batch = self.batches.get(batch.batch_id) or batch  # rows may have been repaired just now
        doc = self.summary(batch)
        doc["rows"] = rows
        doc["nextCursor"] = str(page[limit].row) if len(page) > limit else None
        return doc

    def summary(self, batch: Batch) -> dict[str, Any]:
        """The batch without its rows: what the batch webhook carries."""
        return {
            "batchId": batch.batch_id,
            "templateId": batch.template_id,
            "version": batch.template_version,
            "status": batch.status,
            "submittedAt": isoformat(batch.submitted_at),
            "updatedAt": isoformat(batch.updated_at),
            "counts": batch.counts.as_dict(),
            "progress": {"percent": batch.percent},
        }

    def _row_document(self, row: BatchRow, job: Job | None) -> dict[str, Any]:
        status = row.status
        # A worker that died between ending a job and reporting it (or a job cancelled on its
        # own) leaves the row behind: catch it up.
        if job is not None and RowStatus.of_job(job.status) != status and self._move_row(job) is not None:
            status = RowStatus.of_job(job.status)
        doc: dict[str, Any] = {"row": row.row, "jobId": row.job_id, "status": status.value}
        doc["error"] = (
            job.error if job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED) else None
        )
        completed = job is not None and job.status == JobStatus.COMPLETED
        doc["output"] = self.jobs.status_document(job)["output"] if completed and job is not None else None
        return doc

    # --- workers' reports ----------------------------------------------------------------------

    def job_changed(self, job: Job) -> bool:
        """A worker moved a job of a batch (claimed, ended): move its row. Once every row has
        ended, the worker that sees it first sends the batch's webhook. Only workers send it:
        they hold the webhook secret (a cancel in the API ends rows too, and the workers, handed
        the cancelled jobs' messages, announce it). True when the batch was cancelled: a worker
        that just claimed the job cancels it instead of rendering."""
        if job.batch_id is None:
            return False
        batch = self._move_row(job) or self.batches.get(job.batch_id)  # the move reads it back
        if batch is None:
            return False
        if job.status.terminal:
            self._notify_if_done(batch)
        return batch.cancel_requested

    def _move_row(self, job: Job) -> Batch | None:
        if job.batch_id is None or job.batch_row is None or job.status == JobStatus.SUBMITTED:
            return None
        to = RowStatus.of_job(job.status)
        return self.batches.move_row(job.batch_id, job.batch_row, job_id=job.job_id, to=to)

    def _notify_if_done(self, batch: Batch) -> None:
        if batch.counts.ended < batch.counts.total or batch.notified_round >= batch.round:
            return
        try:  # only the worker that wins this write announces the round
            batch = self.batches.update(
                batch.batch_id,
                {"notified_round": batch.round},
                expect={"notified_round": batch.notified_round},
            )
        except ConflictError:
            return
        target = (batch.notifications or {}).get("webhook")
        if not target or self.webhooks is None:
            return
        delivery = self.webhooks.deliver(
            target["url"],
            {**self.summary(batch), "metadata": target.get("metadata", {})},
            method=target.get("method", "POST"),
            headers=target.get("headers") or {},
        )
        self.batches.update(batch.batch_id, {"webhook_delivery": delivery.as_dict()})
        if not delivery.delivered:
            log.warning("batch %s: webhook not delivered: %s", batch.batch_id, delivery.error)

    # --- cancel / retry ------------------------------------------------------------------------

    def cancel(self, batch_id: str, *, owner: str) -> Batch:
        """Running rows are asked to stop, then queued ones are cancelled, for up to
        ``AUTOVID_BATCH_CANCEL_SECONDS`` in all, so that the request answers in time however many
        rows there are. Workers cancel the queued rows left over as they reach them
        (``job_changed`` tells them): none renders, and the batch is ``cancelling`` until they have."""
        self.get(batch_id, owner=owner)
        self.batches.update(batch_id, {"cancel_requested": True})
        deadline = time.monotonic() + self.settings.batch_cancel_s
        for status in (RowStatus.PROCESSING, RowStatus.SUBMITTED):  # the running ones first
            for row in self._all_rows(batch_id, status):
                if time.monotonic() >= deadline:
                    return self.get(batch_id, owner=owner)
                self._cancel_row(batch_id, row, owner)
        return self.get(batch_id, owner=owner)

    def _cancel_row(self, batch_id: str, row: BatchRow, owner: str) -> None:
        try:
            job = self.jobs.cancel(row.job_id, owner=owner)
        except ConflictError:  # it ended meanwhile
            job = self.jobs.store.get(row.job_id)  # type: ignore[assignment]
        except AutovidError as exc:
            log.warning("batch %s row %d: cannot cancel job %s: %s", batch_id, row.row, row.job_id, exc)
            return
        if job is not None:
            self._move_row(job)

    def retry(self, batch_id: str, *, owner: str) -> Batch:
        """Re-submit the failed rows, each as a new job with the same spec; other rows stay."""
        batch = self.get(batch_id, owner=owner)
        if batch.status == "cancelling":  # its queued rows must end cancelled before a new round
            raise ConflictError(f"batch '{batch_id}' is still cancelling; retry it once every row has ended")
        failed = list(self._all_rows(batch_id, RowStatus.FAILED))
        if not failed:
            raise ConflictError(f"batch '{batch_id}' has no failed rows to retry")
        fresh: list[tuple[BatchRow, Job]] = []
        for row in failed:
            old = self.jobs.store.get(row.job_id)
            if old is not None:
                fresh.append(
                    (
                        row,
                        self._row_job(
                            batch, row.row, old.spec, row_job_id(batch_id, row.row, row.attempt + 1)
                        ),
                    )
                )
        self.jobs.store.create_many([job for _, job in fresh])
        moved = [
            job.job_id
            for row, job in fresh
            if self.batches.move_row(
                batch_id, row.row, job_id=row.job_id, to=RowStatus.SUBMITTED, new_job_id=job.job_id
            )
        ]
        # The round moves on only now: until the rows are back, the batch could look finished.
        self.batches.update(batch_id, {"round": batch.round + 1, "cancel_requested": False})
        self.jobs.queue.send_many(moved)
        return self.get(batch_id, owner=owner)

    def _all_rows(self, batch_id: str, status: RowStatus) -> Iterator[BatchRow]:
        start = 0
        while True:
            page = self.batches.rows(batch_id, start=start, limit=_SCAN_PAGE, status=status)
            yield from page
            if len(page) < _SCAN_PAGE:
                return
            start = page[-1].row + 1


def row_job_id(batch_id: str, row: int, attempt: int) -> str:
    """The job of ``row``'s ``attempt``: the same inputs always give the same id."""
    return str(uuid.uuid5(uuid.UUID(batch_id), f"row/{row}/attempt/{attempt}"))


def _managed_sources(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(spec path, key) of every source that names a file in managed storage."""
    assets = raw.get("assets") or {}
    entries = [("assets.video", assets.get("video"))]
    entries += [(f"assets.audio[{i}]", a) for i, a in enumerate(assets.get("audio") or [])]
    found = []
    for path, entry in entries:
        source = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(source, str) and "://" not in source:
            found.append((f"{path}.source", source))
    return found


def _fingerprint(
    template_id: str | None, version: int | None, document: Any, rows: Any, notifications: Any
) -> str:
    text = json.dumps([template_id, version, document, rows, notifications], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise SpecError([ErrorDetail("Idempotency-Key", f"must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters")])


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise SpecError([ErrorDetail("cursor", "is not a cursor returned by this API")])
    return int(cursor)


def _detail(error: ErrorDetail) -> dict[str, Any]:
    return error.as_dict()


def _located(row: int, error: ErrorDetail) -> ErrorDetail:
    return ErrorDetail(f"rows[{row}].{error.path}", error.message)
