"""The service contender of ``benchmarks/batch.py``: ``autovid serve`` (embedded, its own data
folder, real HTTP on 127.0.0.1) and one ``POST /batches`` of every row, until every job ended.

Measured from the submit to the last row's end: wall time, the CPU time of the server and its
worker processes (psutil, before and after: they stay up, so ``wait4`` cannot tell), and the
peak of their summed RSS (sampled every 50 ms). Uploading the template's media is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_keys import SqliteKeyStore
from autovid.auth.plans import UsagePlan
from autovid.bootstrap import DB_FILE
from autovid.client import AutovidClient, upload_local_sources
from autovid.entrypoints.api.runner import ServiceProcess
from benchmarks.measure import Run, _TreeSampler

UNLIMITED = UsagePlan(rate_per_s=1e6, burst=1_000_000, quota_per_day=None)


def run_batch_over_http(
    template: dict[str, Any],
    rows: list[dict[str, str]],
    media_dir: Path,
    scratch: Path,
    env: dict[str, str],
    *,
    workers: int | None = None,
) -> Run:
    """One batch of ``rows`` through a fresh ``autovid serve``; raises when a row did not complete."""
    data_dir = scratch / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _, secret = SqliteKeyStore(Database(data_dir / DB_FILE)).create(name="bench", plan=UNLIMITED)
    log_path = scratch / "serve.log"
    with ServiceProcess(data_dir, workers=workers, env=env, log_path=log_path) as service:
        assert service.pid is not None
        with AutovidClient(service.url, secret, timeout_s=120) as client:
            spec = upload_local_sources(client, template["spec"], media_dir)
            body = {"template": {**template, "spec": spec}, "rows": rows}
            with _tree_usage(service.pid) as usage:
                batch = client.submit_batch(body)
                doc = client.wait_batch(batch["batchId"], poll_s=0.25, timeout_s=3600)
            failed = [row for row in client.batch_rows(batch["batchId"]) if row["status"] != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(rows)} rows did not complete: {failed[:3]}")
    counts = doc["counts"]
    if counts["completed"] != len(rows):
        raise RuntimeError(f"the batch ended with {counts}")
    return Run(
        wall_s=usage["wall_s"],
        peak_rss_mb=usage["peak_mb"],
        peak_tree_rss_mb=usage["peak_mb"],
        cpu_s=usage["cpu_s"],
        returncode=0,
        log_path=log_path,
        peak_tree_pss_mb=usage["peak_pss_mb"],
        peak_tree_parts=usage["peak_parts"],
    )


@contextmanager
def _tree_usage(pid: int) -> Iterator[dict[str, Any]]:
    """Wall time, CPU time and peak summed RSS of process ``pid`` and its descendants while the
    block runs."""
    usage: dict[str, Any] = {}
    before = _cpu_by_process(pid)
    sampler = _TreeSampler(pid, 0.05, include_root=True, pss=True)
    started = time.perf_counter()
    try:
        yield usage
    finally:
        usage["wall_s"] = time.perf_counter() - started
        usage["peak_mb"] = sampler.stop()
        usage["peak_pss_mb"] = sampler.peak_pss_mb
        usage["peak_parts"] = sampler.peak_parts
        after = _cpu_by_process(pid)
        usage["cpu_s"] = sum(cpu - before.get(key, 0.0) for key, cpu in after.items())


def _cpu_by_process(pid: int) -> dict[tuple[int, float], float]:
    """(pid, start time) -> user + system CPU seconds, for ``pid`` and every descendant."""
    root = psutil.Process(pid)
    found: dict[tuple[int, float], float] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()  # with the children it waited for (espeak-ng, per row)
            found[(process.pid, process.create_time())] = (
                times.user + times.system + times.children_user + times.children_system
            )
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found
