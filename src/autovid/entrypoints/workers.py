"""Worker pools for ``autovid serve`` and ``autovid worker``: run ``count`` worker loops in
child processes (the default: a crash or a stuck native call kills one worker, not the API) or
threads, restart processes that die, and turn SIGTERM/SIGINT into a graceful stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Literal

from pydantic import SecretStr

from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.entrypoints.memory import limit_malloc_arenas, release_free_memory
from autovid.jobs.worker import run_worker
from autovid.logsafe import configure_logging

log = logging.getLogger(__name__)


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
    # "spawn": a fresh interpreter, with no inherited locks or SQLite handles.
    context = multiprocessing.get_context("spawn")
    settings_values = settings_to_kwargs(with_core_share(settings, count))
    processes: list[BaseProcess] = []
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


def with_core_share(settings: Settings, count: int) -> Settings:
    """``settings`` for one of ``count`` worker processes: unless ``AUTOVID_RENDER_THREADS`` says
    otherwise, each render runs as many AAC encoders as its process's share of the cores. The
    workers render at once; more encoders than cores only hold more segments in memory (measured
    on 2 cores, 2 workers, a 100-row batch: ~15 MB less per worker at its peak, no slower)."""
    if settings.render_threads is not None:
        return settings
    share = max(1, (os.cpu_count() or 1) // count)
    return settings.model_copy(update={"render_threads": share})


def settings_to_kwargs(settings: Settings) -> dict[str, Any]:
    """Settings as constructor arguments, secrets included (for a child process)."""
    values = settings.model_dump()
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}


def worker_process_main(settings_values: dict[str, Any]) -> None:
    """Entry point of one worker process."""
    settings = Settings(**settings_values)
    configure_logging(settings.log_level)
    limit_malloc_arenas()
    # Renders are CPU-bound; a lower priority keeps the API responsive on a small machine.
    os.nice(5)
    stop_event = threading.Event()
    install_signal_handlers(stop_event)
    _stop_when_orphaned(stop_event)
    container = bootstrap(settings)
    run_worker(container, stop_event, on_outcome=free_memory_after_job)


def free_memory_after_job(job_id: str, outcome: object) -> None:
    """``run_worker``'s ``on_outcome``: what the job's render freed goes back to the system."""
    release_free_memory()


def _stop_when_orphaned(stop_event: threading.Event, interval_s: float = 1.0) -> None:
    """A supervisor killed outright (SIGKILL) leaves its workers running; each then stops as on
    SIGTERM (finishing or giving back its job) instead of working on unsupervised."""
    parent = os.getppid()

    def watch() -> None:
        while not stop_event.wait(interval_s):
            if os.getppid() != parent:
                log.warning("the supervising process %d is gone: stopping after the current job", parent)
                stop_event.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def install_signal_handlers(stop_event: threading.Event) -> None:
    """SIGTERM and SIGINT ask the worker to stop after (or give back) its current job."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current job", signum)
        stop_event.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
