"""The local worker loop and pool: receive, process, repeat; stop cleanly on SIGTERM.

``run_worker`` is one loop (in the calling thread); ``run_workers`` runs ``count`` of them in
child processes (the default: a crash or a stuck native call kills one worker, not the API) or
threads. On stop, a worker finishes its current job within the processor's shutdown grace or
gives it back to the queue; a worker killed outright loses nothing: its lease runs out and the job
is received again.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from autovid.errors import AutovidError
from autovid.jobs.processor import Outcome

if TYPE_CHECKING:
    from autovid.bootstrap import Container
    from autovid.config import Settings

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
RECEIVE_WAIT_S = 1.0


def run_worker(
    container: Container,
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


def _receive(container: Container, stop_event: threading.Event, wait_s: float) -> list[Any]:
    queue: Any = container.queue
    # The SQLite queue can end its long poll early when asked to stop; SQS cannot.
    stop_kwargs = {"stop": stop_event} if "stop" in inspect.signature(queue.receive).parameters else {}
    try:
        return queue.receive(max_messages=1, wait_s=wait_s, **stop_kwargs)
    except AutovidError as exc:
        log.warning("receiving from the queue failed: %s; retrying", exc)
        stop_event.wait(1.0)
        return []


def sweep(container: Container) -> None:
    """Housekeeping: delete job records past their TTL with their local outputs, and work
    folders left by workers that died."""
    purge = getattr(container.store, "purge_expired", None)
    if purge is not None:
        try:
            purged = purge()
        except AutovidError as exc:
            log.warning("purging expired jobs failed: %s", exc)
            purged = []
        for job in purged:
            _delete_output(container, job)
        if purged:
            log.info("purged %d expired job records", len(purged))
    _clean_work_dirs(container)


def _delete_output(container: Container, job: Any) -> None:
    delete = getattr(container.blobs, "delete", None)
    if job.output is None or delete is None:
        return  # S3 lifecycle rules expire outputs on AWS
    try:
        delete(job.output.key)
    except AutovidError as exc:
        log.warning("could not delete the output of expired job %s: %s", job.job_id, exc)


def _clean_work_dirs(container: Container) -> None:
    # A folder is named {jobId}-{claimToken}; it is in use only while that claim holds the job.
    work_dir = container.processor.work_dir
    if not work_dir.is_dir():
        return
    for folder in work_dir.iterdir():
        job_id, _, token = folder.name.rpartition("-")
        job = container.store.get(job_id) if job_id else None
        if job is None or job.claim_token != token:
            shutil.rmtree(folder, ignore_errors=True)


def default_worker_count() -> int:
    return max(1, os.cpu_count() or 1)


def run_workers(
    container: Container,
    count: int | None,
    stop_event: threading.Event,
    *,
    mode: Literal["process", "thread"] = "process",
) -> None:
    """Run ``count`` workers (default one per core) until ``stop_event`` is set, then stop them
    gracefully and return. Process workers build their own container from
    ``container.settings`` (overrides given to ``bootstrap`` do not cross into them)."""
    count = default_worker_count() if count is None else count
    if count <= 0:
        stop_event.wait()
        return
    if mode == "thread":
        _run_thread_pool(container, count, stop_event)
    else:
        _run_process_pool(container.settings, count, stop_event)


def _run_thread_pool(container: Container, count: int, stop_event: threading.Event) -> None:
    threads = [
        threading.Thread(target=run_worker, args=(container, stop_event), name=f"worker-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    stop_event.wait()
    for thread in threads:
        thread.join()


def _run_process_pool(settings: Settings, count: int, stop_event: threading.Event) -> None:
    context = multiprocessing.get_context(
        "spawn"
    )  # a fresh interpreter: no inherited locks or sqlite handles
    settings_values = settings_to_kwargs(settings)
    processes: list[Any] = []
    while not stop_event.is_set():
        for process in processes:
            if not process.is_alive():
                log.warning(
                    "worker process %s exited with %s; starting another", process.pid, process.exitcode
                )
        processes = [p for p in processes if p.is_alive()]
        while len(processes) < count:  # start, and restart workers that died
            process = context.Process(target=worker_process_main, args=(settings_values,), daemon=False)
            process.start()
            processes.append(process)
        stop_event.wait(1.0)
    for process in processes:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join()


def settings_to_kwargs(settings: Settings) -> dict[str, Any]:
    """Settings as constructor arguments, secrets included (for a child process)."""
    values = settings.model_dump()
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}


def worker_process_main(settings_values: dict[str, Any]) -> None:
    """Entry point of one worker process."""
    from autovid.bootstrap import bootstrap
    from autovid.config import Settings

    # Renders are CPU-bound; a lower priority keeps the API responsive on a small machine.
    os.nice(5)
    stop_event = threading.Event()
    install_signal_handlers(stop_event)
    container = bootstrap(Settings(**settings_values))
    run_worker(container, stop_event)


def install_signal_handlers(stop_event: threading.Event) -> None:
    """SIGTERM and SIGINT ask the worker to stop after (or give back) its current job."""

    def handle(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current job", signum)
        stop_event.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
