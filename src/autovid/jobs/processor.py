"""The worker's core, shared by the local worker and the AWS Lambda processor.

``JobProcessor.process(message)``: load the job, claim it (a conditional write with a claim token
and a lapse time), render it in a thread while this thread renews the lease, watches for cancel,
timeout and shutdown, then store the output, complete the record, send the webhook and delete the
message. Permanent errors fail the job at once; retryable ones put it back on the queue with
backoff (status ``retrying``) until the last allowed receive, which fails it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from autovid.assets.ownership import output_key
from autovid.errors import (
    AutovidError,
    ConflictError,
    JobCancelledError,
    JobNotFoundError,
    JobTimeoutError,
    PermanentError,
    RetryableError,
    StorageError,
)
from autovid.jobs.holder import current_holder
from autovid.jobs.model import CaptionOutput, Job, JobStatus, OutputInfo, Progress, stage_rank, utcnow
from autovid.jobs.service import JobService, retry_delay_s, webhook_of
from autovid.ports import QueueMessage, WebhookSender
from autovid.render.report import CaptionFile
from autovid.spec.models import JobSpec
from autovid.spec.validation import parse_spec

if TYPE_CHECKING:  # the render engine loads when the first job runs (see render_fn)
    from autovid.render.pipeline import AssetSource, RenderResult, Synthesizer

log = logging.getLogger(__name__)

# Share of the overall percent each phase covers: the render itself is most of the work.
RENDER_SHARE = 90.0
STORING_PERCENT = 90.0
NOTIFYING_PERCENT = 95.0
_TICK_S = 0.1
GIVEN_BACK = "the worker shut down before the job finished; it is queued again and starts over"
_ACTIVE = (JobStatus.SUBMITTED, JobStatus.RETRYING, JobStatus.PROCESSING)


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # nothing to do (job gone or already finished); message deleted
    DEFERRED = "deferred"  # another worker holds the job; message left for later
    RELEASED = "released"  # shutdown: the job goes back to the queue untouched


class RenderFn(Protocol):
    def __call__(
        self,
        spec: JobSpec,
        *,
        output_path: Path,
        assets: AssetSource,
        speech: Synthesizer,
        workdir: Path,
        progress: Callable[[str, float], None] | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> RenderResult: ...


class JobEvents(Protocol):
    """Told of every move a worker makes on a job (claimed, ended); batches keep count this way."""

    def job_changed(self, job: Job) -> bool:
        """Record the move; True when the job was cancelled as part of a whole (its batch), so a
        job just claimed must not render."""
        ...


class _LostClaim(Exception):
    """Another worker took the job over (our lease ran out): stop without touching it."""


class _Released(Exception):
    """The worker is shutting down and gave the job back."""


@dataclass
class ProcessorOptions:
    heartbeat_s: float | None = None  # lease renewal interval; default lease_s / 3
    cancel_poll_s: float = 1.0  # how often a running job's record is re-read (cancel, takeover)
    # progress writes at most this often, but at once when the stage changes: a write per 1 %
    # cost a short render ~8 % of its wall time in store updates (~100 a job)
    progress_interval_s: float = 0.5
    shutdown_grace_s: float = 30.0  # on stop, a running render may finish within this time
    abandon_after_s: float = 10.0  # a render that ignores its checkpoint this long is given up
    retry_jitter: float = 0.25


class JobProcessor:
    def __init__(
        self,
        service: JobService,
        *,
        assets: AssetSource | None,
        speech: Synthesizer | None,
        webhooks: WebhookSender | None,
        work_dir: Path,
        render: RenderFn | None = None,
        options: ProcessorOptions | None = None,
        events: JobEvents | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.queue = service.queue
        self.blobs = service.blobs
        self.settings = service.settings
        self.assets = assets
        self.speech = speech
        self.webhooks = webhooks
        self.work_dir = work_dir
        self._render = render
        self.options = options or ProcessorOptions()
        self.events = events

    # --- entry points --------------------------------------------------------------------------

    def process(self, message: QueueMessage, *, stop: threading.Event | None = None) -> Outcome:
        """Handle one delivery. Never raises for job failures; those end in the job record."""
        job = self.store.get(message.job_id)
        if job is None:
            self._delete(message)
            return Outcome.SKIPPED
        if job.status.terminal:
            self._notify_if_missed(job)
            self._tell(job)  # again, in case the worker that ended it died before telling
            self._delete(message)
            return Outcome.SKIPPED
        if message.receive_count > self.settings.max_receives:
            # A queue without its own redrive delivered once too often: dead-letter it here.
            outcome = self.dead_lettered(job.job_id, message.receive_count - 1)
            self._delete(message)
            return outcome or Outcome.SKIPPED
        if job.claim_live():
            remaining_s = (job.claim_expires_at - utcnow()).total_seconds()  # type: ignore[operator]
            self._release(message, delay_s=remaining_s + 1.0)
            return Outcome.DEFERRED
        claimed = self._claim(job, message)
        if claimed is None:
            self._release(message, delay_s=1.0)
            return Outcome.DEFERRED
        # Told after the claim: a batch cancel that missed the row then finds it processing.
        cancelled_with_batch = self._tell(claimed)
        if claimed.cancel_requested or cancelled_with_batch:
            return self._cancel(claimed, message)
        return self._run(claimed, message, stop or threading.Event())

    def dead_lettered(self, job_id: str, receive_count: int) -> Outcome | None:
        """The queue gave up on a job's message: fail the job (unless another worker holds it
        under a live claim, or it already ended)."""
        job = self.store.get(job_id)
        if job is None or job.status.terminal or job.claim_live():
            return None
        reason = job.error or "the worker stopped before finishing (crashed, killed or ran out of time)"
        changes = _ended(JobStatus.FAILED, f"dead-lettered after {receive_count} failed receives: {reason}")
        if job.cancel_requested:
            changes = _ended(JobStatus.CANCELLED, "cancelled by the client")
        try:
            ended = self.store.update(
                job_id, changes, expect_status=_ACTIVE, expect={"claim_token": job.claim_token}
            )
        except (ConflictError, JobNotFoundError):
            return None
        log.warning("job %s dead-lettered after %d receives: %s", job_id, receive_count, reason)
        self._tell(ended)
        self._notify(ended)
        return Outcome.FAILED if ended.status == JobStatus.FAILED else Outcome.CANCELLED

    # --- claim / run ---------------------------------------------------------------------------

    def _claim(self, job: Job, message: QueueMessage) -> Job | None:
        now = utcnow()
        changes: dict[str, Any] = {
            "status": JobStatus.PROCESSING,
            "attempts": job.attempts + 1,
            "started_at": now,
            "claim_token": uuid.uuid4().hex,
            "claim_expires_at": now + timedelta(seconds=self._claim_s),
            "claim_holder": current_holder(),
        }
        if job.status == JobStatus.PROCESSING:  # taking over from a worker that died
            changes["progress"] = Progress()
        try:
            return self.store.update(
                job.job_id,
                changes,
                expect_status=_ACTIVE,
                expect={"claim_token": job.claim_token},
            )
        except (ConflictError, JobNotFoundError):
            return None

    @property
    def _claim_s(self) -> float:
        # The claim lapses a little before the message's lease, so a redelivery after a crash
        # always finds the claim expired and can take the job over at once.
        return self.settings.lease_s * 0.9

    def _run(self, job: Job, message: QueueMessage, stop: threading.Event) -> Outcome:
        run = _Run(self, job, message, stop)
        workdir = self.work_dir / f"{job.job_id}-{job.claim_token}"
        try:
            output = run.execute(workdir)
        except _LostClaim:
            log.warning("job %s was taken over by another worker; stopping", job.job_id)
            return Outcome.DEFERRED
        except _Released:
            return self._give_back(run, message)
        except JobCancelledError:
            return self._cancel(run.job, message)
        except PermanentError as exc:
            return self._fail(run, message, _describe(exc))
        except RetryableError as exc:
            return self._retry(run, message, _describe(exc))
        except Exception as exc:  # a bug or an OS error: retry, so one bad moment is not fatal
            log.exception("job %s: unexpected error", job.job_id)
            return self._retry(run, message, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return self._complete(run, message, output)

    # --- endings -------------------------------------------------------------------------------

    def _complete(self, run: _Run, message: QueueMessage, output: OutputInfo) -> Outcome:
        finished = utcnow()
        started = run.job.started_at or finished
        webhook = webhook_of(run.job)
        changes = {
            **_ended(JobStatus.COMPLETED, None),
            "completed_at": finished,
            "processing_time_s": (finished - started).total_seconds(),
            "output": output,
            "progress": Progress("notifying", NOTIFYING_PERCENT) if webhook else Progress("done", 100.0),
        }
        try:
            done = run.finish(changes)
        except _LostClaim:
            return Outcome.DEFERRED
        self._tell(done)
        self._notify(done)
        self._delete(message)
        return Outcome.COMPLETED

    def _fail(self, run: _Run, message: QueueMessage, reason: str) -> Outcome:
        try:
            failed = run.finish(_ended(JobStatus.FAILED, reason))
        except _LostClaim:
            return Outcome.DEFERRED
        log.info("job %s failed: %s", failed.job_id, reason)
        self._tell(failed)
        self._notify(failed)
        self._delete(message)
        return Outcome.FAILED

    def _retry(self, run: _Run, message: QueueMessage, reason: str) -> Outcome:
        if message.receive_count >= self.settings.max_receives:
            reason = f"dead-lettered after {message.receive_count} failed receives: {reason}"
            try:
                failed = run.finish(_ended(JobStatus.FAILED, reason))
            except _LostClaim:
                return Outcome.DEFERRED
            self._tell(failed)
            self._notify(failed)
            # Back to the queue at once: its next receive moves it to the dead-letter queue.
            self._release(message, delay_s=0)
            return Outcome.FAILED
        delay_s = retry_delay_s(
            self.settings.retry_base_delay_s,
            message.receive_count,
            random.uniform(0, self.options.retry_jitter),
        )
        try:
            run.finish({"status": JobStatus.RETRYING, "error": reason, **_unclaimed()})
        except _LostClaim:
            return Outcome.DEFERRED
        log.info("job %s: retry in %.1f s after: %s", run.job.job_id, delay_s, reason)
        self._release(message, delay_s=delay_s)
        return Outcome.RETRYING

    def _cancel(self, job: Job, message: QueueMessage) -> Outcome:
        try:
            cancelled = self.store.update(
                job.job_id,
                _ended(JobStatus.CANCELLED, "cancelled by the client"),
                expect_status=(JobStatus.PROCESSING,),
                expect={"claim_token": job.claim_token},
            )
        except (ConflictError, JobNotFoundError):
            return Outcome.DEFERRED
        self._tell(cancelled)
        self._delete(message)
        return Outcome.CANCELLED

    def _give_back(self, run: _Run, message: QueueMessage) -> Outcome:
        try:
            run.finish({"status": JobStatus.RETRYING, "error": GIVEN_BACK, **_unclaimed()})
        except _LostClaim:
            return Outcome.DEFERRED
        self._release(message, delay_s=0)
        log.info("job %s released on shutdown", run.job.job_id)
        return Outcome.RELEASED

    # --- webhooks ------------------------------------------------------------------------------

    def _notify(self, job: Job) -> None:
        """Send the webhook of a completed or failed job and record the outcome on it."""
        target = webhook_of(job)
        if not target or self.webhooks is None or job.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return
        payload = self.service.status_document(job, for_webhook=True)
        delivery = self.webhooks.deliver(
            target["url"],
            payload,
            method=target.get("method", "POST"),
            headers=target.get("headers") or {},
        )
        changes: dict[str, Any] = {"webhook_delivery": delivery.as_dict()}
        if job.status == JobStatus.COMPLETED:
            changes["progress"] = Progress("done", 100.0)
        with contextlib.suppress(JobNotFoundError):
            self.store.update(job.job_id, changes)
        if not delivery.delivered:
            log.warning("job %s: webhook not delivered: %s", job.job_id, delivery.error)

    def _notify_if_missed(self, job: Job) -> None:
        # A worker that died between completing a job and sending its webhook leaves this.
        if job.webhook_delivery is None and job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            self._notify(job)

    def _tell(self, job: Job) -> bool:
        """Tell ``events`` of the move; whether the job's batch was cancelled."""
        if self.events is None:
            return False
        try:
            return self.events.job_changed(job)
        except AutovidError as exc:  # the job's own record is right; a later read repairs the batch
            log.warning("job %s: its batch could not be updated: %s", job.job_id, exc.message)
            return False  # the job's own cancel flag still stops it at a checkpoint

    # --- queue helpers -------------------------------------------------------------------------

    def _delete(self, message: QueueMessage) -> None:
        try:
            self.queue.delete(message)
        except ConflictError:
            log.info("job %s: message already re-delivered; its new holder deletes it", message.job_id)

    def _release(self, message: QueueMessage, *, delay_s: float) -> None:
        try:
            self.queue.release(message, delay_s=max(0.0, delay_s))
        except ConflictError:
            log.info("job %s: message already re-delivered", message.job_id)

    # --- rendering -----------------------------------------------------------------------------

    def render_fn(self) -> RenderFn:
        if self._render is None:
            from autovid.render.pipeline import render  # the render engine, imported when first needed

            self._render = functools.partial(render, limits=self.settings.render_limits)
        return self._render

    def output_key(self, spec: JobSpec, job_id: str, owner: str) -> str:
        destination = spec.output.destination
        if not destination:
            return output_key(owner, job_id, spec.output.filename)
        if destination.startswith("s3://") and self.blobs.uri("outputs/x") is None:
            raise StorageError(
                "output.destination: s3:// destinations need the AWS backend; leave it out to store "
                "the output in managed storage"
            )
        if destination.lower().endswith(".mp4"):
            return destination
        return f"{destination.rstrip('/')}/{spec.output.filename}"


class _Run:
    """One attempt at one job: the render thread and the supervision around it."""

    def __init__(
        self, processor: JobProcessor, job: Job, message: QueueMessage, stop: threading.Event
    ) -> None:
        self.p = processor
        self.job = job
        self.message = message
        self.stop = stop
        self.token = job.claim_token
        self.started_mono = time.monotonic()
        self._abort: BaseException | None = None  # raised by the checkpoint in the render thread
        self._progress = job.progress
        self._last_write_mono = 0.0
        self._written = job.progress
        self._lock = threading.Lock()

    def execute(self, workdir: Path) -> OutputInfo:
        spec = parse_spec(self.job.spec, self.p.settings.spec_limits)
        self.p.service.source_rules(self.job.owner).check_spec(spec)
        key = self.p.output_key(spec, self.job.job_id, self.job.owner)
        workdir.mkdir(parents=True, exist_ok=True)
        output_path = workdir / "output" / spec.output.filename
        output_path.parent.mkdir(parents=True, exist_ok=True)
        assets, speech = self._dependencies()
        result = self._supervise(
            lambda: self.p.render_fn()(
                spec,
                output_path=output_path,
                assets=assets,
                speech=speech,
                workdir=workdir,
                progress=self.on_progress,
                checkpoint=self.checkpoint,
            )
        )
        self.checkpoint()
        self.set_progress("storing", STORING_PERCENT, force=True)
        self.p.blobs.put_file(key, Path(result.output_path), content_type="video/mp4")
        return OutputInfo(
            key=key,
            duration_s=float(result.duration_s),
            size_bytes=int(result.size_bytes),
            s3_uri=self.p.blobs.uri(key),
            audio=result.audio.as_dict() if result.audio else None,
            captions=tuple(self._store_caption(key, c) for c in result.captions),
            warnings=tuple(w.as_dict() for w in result.warnings),
        )

    def _store_caption(self, output_key: str, caption: CaptionFile) -> CaptionOutput:
        """Sidecars live beside the MP4, with its stem: ``…/welcome.mp4`` -> ``…/welcome.vtt``."""
        key = f"{output_key.rsplit('.', 1)[0]}.{caption.format}"
        content_type = "text/vtt" if caption.format == "vtt" else "application/x-subrip"
        self.p.blobs.put_file(key, caption.path, content_type=content_type)
        return CaptionOutput(caption.format, caption.language, key, self.p.blobs.uri(key))

    def _dependencies(self) -> tuple[AssetSource, Synthesizer]:
        if self.p.assets is None or self.p.speech is None:
            raise PermanentError("the worker has no asset fetcher or speech synthesizer configured")
        return self.p.assets, self.p.speech

    # --- supervision ---------------------------------------------------------------------------

    def _supervise(self, work: Callable[[], RenderResult]) -> RenderResult:
        """Run ``work`` in a thread; meanwhile renew the lease, poll for cancel and takeover,
        and enforce the job timeout and the shutdown grace period."""
        box: dict[str, Any] = {}  # "result" or "error", set by the render thread

        def target() -> None:
            try:
                box["result"] = work()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"render-{self.job.job_id[:8]}", daemon=True)
        thread.start()
        options = self.p.options
        heartbeat_s = options.heartbeat_s or self.p.settings.lease_s / 3
        next_beat = next_poll = time.monotonic()
        stop_seen_at: float | None = None
        abort_at: float | None = None
        while thread.is_alive():
            thread.join(_TICK_S)
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + heartbeat_s
            if now >= next_poll:
                self._poll_record()
                next_poll = now + options.cancel_poll_s
            if self._abort is None and now - self.started_mono > self.p.settings.job_timeout_s:
                self._abort = JobTimeoutError(self._timeout_reason())
            if self.stop.is_set() and stop_seen_at is None:
                stop_seen_at = now
            if (
                stop_seen_at is not None
                and self._abort is None
                and now - stop_seen_at > options.shutdown_grace_s
            ):
                self._abort = _Released()
            if self._abort is not None and abort_at is None:
                abort_at = now
            if abort_at is not None and now - abort_at > options.abandon_after_s:
                log.error("job %s: render ignores its checkpoint; abandoning the thread", self.job.job_id)
                raise self._abort
        if self._abort is not None and "error" in box:
            # The render may wrap our checkpoint's exception in its own error type.
            raise self._abort
        if "error" in box:
            raise box["error"]
        result: RenderResult = box["result"]
        return result

    def _timeout_reason(self) -> str:
        return f"render ran past AUTOVID_JOB_TIMEOUT ({self.p.settings.job_timeout_s:g} s) and was stopped"

    def checkpoint(self) -> None:
        """Called by the render between blocks: raise when the job must stop."""
        if self._abort is not None:
            raise self._abort
        if time.monotonic() - self.started_mono > self.p.settings.job_timeout_s:
            self._abort = JobTimeoutError(self._timeout_reason())
            raise self._abort

    def _heartbeat(self) -> None:
        try:
            self.p.queue.extend_lease(self.message, self.p.settings.lease_s)
            self.job = self.p.store.update(
                self.job.job_id,
                {"claim_expires_at": utcnow() + timedelta(seconds=self.p._claim_s)},
                expect={"claim_token": self.token},
            )
        except (ConflictError, JobNotFoundError):
            self._abort = self._abort or _LostClaim()
            return
        if self.job.cancel_requested:
            self._abort = self._abort or JobCancelledError("cancelled by the client")

    def _poll_record(self) -> None:
        current = self.p.store.get(self.job.job_id)
        if current is None or current.claim_token != self.token:
            self._abort = self._abort or _LostClaim()
        elif current.cancel_requested:
            self._abort = self._abort or JobCancelledError("cancelled by the client")

    # --- progress ------------------------------------------------------------------------------

    def on_progress(self, stage: str, render_percent: float) -> None:
        self.set_progress(stage, max(0.0, min(100.0, render_percent)) * RENDER_SHARE / 100.0)

    def set_progress(self, stage: str, percent: float, *, force: bool = False) -> None:
        """Record progress monotonically (a later stage or a higher percent only), throttled."""
        with self._lock:
            current = self._progress
            if stage_rank(stage) < stage_rank(current.stage):
                stage = current.stage
            percent = max(percent, current.percent)
            self._progress = Progress(stage, percent)
            written = self._written
            due = (
                force
                or stage != written.stage
                or time.monotonic() - self._last_write_mono >= self.p.options.progress_interval_s
            )
            if not due or self._progress == written:
                return
            self._written = self._progress
            self._last_write_mono = time.monotonic()
        try:
            self.p.store.update(
                self.job.job_id, {"progress": self._written}, expect={"claim_token": self.token}
            )
        except (ConflictError, JobNotFoundError):
            self._abort = self._abort or _LostClaim()

    # --- ending --------------------------------------------------------------------------------

    def finish(self, changes: dict[str, Any]) -> Job:
        """Write the attempt's ending, only while our claim holds."""
        if "progress" not in changes:
            changes = {**changes, "progress": self._progress}
        try:
            return self.p.store.update(
                self.job.job_id,
                changes,
                expect_status=(JobStatus.PROCESSING,),
                expect={"claim_token": self.token},
            )
        except (ConflictError, JobNotFoundError):
            raise _LostClaim() from None


def _unclaimed() -> dict[str, Any]:
    return {"claim_token": None, "claim_expires_at": None, "claim_holder": None}


def _ended(status: JobStatus, error: str | None) -> dict[str, Any]:
    return {"status": status, "error": error, "completed_at": utcnow(), **_unclaimed()}


def _describe(exc: AutovidError) -> str:
    return exc.message
