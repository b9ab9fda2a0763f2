"""The worker loop: receive, process, repeat, until asked to stop; and its housekeeping.

``run_worker`` is one loop in the calling thread. Running several, in processes or threads, and
turning signals into a stop is the entrypoints' work (``autovid.entrypoints.workers``). On stop, a
worker finishes its current job within the processor's shutdown grace or gives it back to the
queue; a worker killed outright loses nothing: on one machine the queue sees its holder gone and
hands the job to the next worker that asks at once, elsewhere its lease runs out.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Protocol

from autovid.errors import AutovidError
from autovid.jobs.model import Job
from autovid.jobs.processor import JobProcessor, Outcome
from autovid.ports import BlobStore, JobQueue, JobStore, QueueMessage

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
RECEIVE_WAIT_S = 1.0


class WorkerParts(Protocol):
    """What a worker uses of the wiring (``autovid.bootstrap.Container`` has all of it)."""

    @property
    def store(self) -> JobStore: ...

    @property
    def queue(self) -> JobQueue: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def processor(self) -> JobProcessor: ...


def run_worker(
    container: WorkerParts,
    stop_event: threading.Event,
    *,
    drain: bool = False,
    wait_s: float = RECEIVE_WAIT_S,
    on_outcome: Callable[[str, Outcome], None] | None = None,
) -> int:
    """Process messages until ``stop_event`` is set (or, with ``drain``, until no message is
    visible). Returns how many messages were handled."""
    container.processor.render_fn()  # load the render engine while idle, not under a job's claim
    handled = 0
    next_sweep = 0.0
    while not stop_event.is_set():
        if time.monotonic() >= next_sweep:
            sweep(container)
            next_sweep = time.monotonic() + SWEEP_INTERVAL_S
        messages = _receive(container, stop_event, 0.0 if drain else wait_s)
        if not messages:
            if drain:
                break
            continue
        for message in messages:
            try:
                outcome = container.processor.process(message, stop=stop_event)
            except AutovidError as exc:
                # The store or queue failed around the job; its lease brings it back later.
                log.warning("job %s: not processed (%s); it returns after its lease", message.job_id, exc)
                stop_event.wait(1.0)
                continue
            handled += 1
            log.info("job %s: %s", message.job_id, outcome.value)
            if on_outcome is not None:
                on_outcome(message.job_id, outcome)
    return handled


def _receive(container: WorkerParts, stop_event: threading.Event, wait_s: float) -> list[QueueMessage]:
    try:
        return container.queue.receive(max_messages=1, wait_s=wait_s, stop=stop_event)
    except AutovidError as exc:
        log.warning("receiving from the queue failed: %s; retrying", exc)
        stop_event.wait(1.0)
        return []


def sweep(container: WorkerParts) -> None:
    """Housekeeping: delete job records past their TTL with their outputs, and work folders left
    by workers that died. (On AWS, DynamoDB's TTL and S3 lifecycle rules do the first part.)"""
    try:
        purged = container.store.purge_expired()
    except AutovidError as exc:
        log.warning("purging expired jobs failed: %s", exc)
        purged = []
    for job in purged:
        _delete_output(container, job)
    if purged:
        log.info("purged %d expired job records", len(purged))
    _clean_work_dirs(container)


def _delete_output(container: WorkerParts, job: Job) -> None:
    if job.output is None:
        return
    for key in (job.output.key, *(caption.key for caption in job.output.captions)):
        try:
            container.blobs.delete(key)
        except AutovidError as exc:
            log.warning("could not delete %s of expired job %s: %s", key, job.job_id, exc)


def _clean_work_dirs(container: WorkerParts) -> None:
    # A folder is named {jobId}-{claimToken}; it is in use only while that claim holds the job.
    work_dir = container.processor.work_dir
    if not work_dir.is_dir():
        return
    for folder in work_dir.iterdir():
        job_id, _, token = folder.name.rpartition("-")
        job = container.store.get(job_id) if job_id else None
        if job is None or job.claim_token != token:
            shutil.rmtree(folder, ignore_errors=True)
