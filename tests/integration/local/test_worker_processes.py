"""Worker processes sharing one data folder: kill -9 mid-render, poison jobs, SIGTERM, and many
processes on one queue."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_queue import SqliteJobQueue
from autovid.jobs.model import JobStatus

pytestmark = pytest.mark.slow


def test_a_worker_killed_mid_render_loses_nothing_and_the_job_completes_once(cluster, hooks) -> None:
    c = cluster()
    job = c.submit(webhook_url=hooks.url("/hook"))
    doomed = c.start_worker("slow", "--render-s", "60")
    c.wait_for(lambda: any(e == "start" for e, *_ in c.renders()), 30, "the first render to start")
    assert c.job(job.job_id).status == JobStatus.PROCESSING

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    rescuer = c.start_worker("fast")
    c.wait_for(lambda: c.job(job.job_id).webhook_delivery is not None, 30, "the job to complete")

    # Once the message is deleted nothing can deliver the job again, so no render or webhook follows.
    idle = {"visible": 0, "in_flight": 0, "dead": 0}
    c.wait_for(lambda: c.container.queue.counts() == idle, 30, "the message to be deleted")
    done = c.job(job.job_id)
    assert done.status == JobStatus.COMPLETED and done.attempts == 2
    assert c.container.blobs.exists(done.output.key)
    starts = [pid for event, pid, *_ in c.renders() if event == "start"]
    finishes = [pid for event, pid, *_ in c.renders() if event == "finish"]
    assert starts == [doomed.pid, rescuer.pid] and finishes == [rescuer.pid]
    assert [r.json()["status"] for r in hooks.received("/hook")] == ["completed"]


def test_a_poison_job_is_dead_lettered_after_three_receives_while_others_complete(cluster) -> None:
    c = cluster()
    poison = c.submit(title="poison")
    healthy = [c.submit(title=f"ok-{i}") for i in range(3)]
    deaths = 0
    worker = c.start_worker("poison")
    deadline = time.monotonic() + 90
    while not all(c.job(j.job_id).status.terminal for j in [poison, *healthy]):
        assert time.monotonic() < deadline, c.diagnostics()
        if worker.poll() is not None:  # a supervisor restarts dead workers
            assert worker.returncode == -signal.SIGKILL
            deaths += 1
            worker = c.start_worker("poison")
        time.sleep(0.05)

    failed = c.job(poison.job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("dead-lettered after 3 failed receives: the worker stopped")
    assert deaths == 3
    assert [c.job(j.job_id).status for j in healthy] == [JobStatus.COMPLETED] * 3
    assert [d.job_id for d in c.container.queue.dead_letters()] == [poison.job_id]
    poison_starts = [e for e in c.renders() if e[0] == "start" and e[3] == "poison"]
    assert len(poison_starts) == 3


def test_sigterm_lets_the_running_job_finish(cluster) -> None:
    c = cluster()
    job = c.submit()
    worker = c.start_worker("slow", "--render-s", "3")
    c.wait_for(lambda: bool(c.renders()), 30, "the render to start")
    signalled_at = datetime.now(UTC)
    worker.send_signal(signal.SIGTERM)
    # the job was mid-render when the signal came: processing, started, not finished
    running = c.job(job.job_id)
    assert running.status == JobStatus.PROCESSING and running.completed_at is None
    assert [event for event, *_ in c.renders()] == ["start"]
    assert worker.wait(timeout=20) == 0
    done = c.job(job.job_id)
    assert done.status == JobStatus.COMPLETED and done.completed_at > signalled_at
    assert [event for event, *_ in c.renders()] == ["start", "finish"]


def test_sigterm_past_the_grace_period_gives_the_job_back(cluster) -> None:
    c = cluster()
    job = c.submit()
    worker = c.start_worker("slow", "--render-s", "60", "--grace", "0.3")
    c.wait_for(lambda: bool(c.renders()), 30, "the render to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    released = c.job(job.job_id)
    assert released.status == JobStatus.RETRYING and released.claim_token is None
    c.start_worker("fast")
    c.wait_for(lambda: c.job(job.job_id).status == JobStatus.COMPLETED, 30, "another worker to finish it")


def _consume(db_path: str, out_path: str, barrier: Any) -> None:
    queue = SqliteJobQueue(Database(Path(db_path)), lease_s=60)
    received: list[str] = []
    barrier.wait()
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 1.0:
        for message in queue.receive(max_messages=3, wait_s=0.05):
            received.append(message.job_id)
            time.sleep(0.01)  # a little work, so every process gets a share
            queue.delete(message)
            idle_since = time.monotonic()
    Path(out_path).write_text("\n".join(received))


def test_processes_sharing_a_queue_never_receive_the_same_message(tmp_path: Path) -> None:
    db_path = tmp_path / "queue.db"
    queue = SqliteJobQueue(Database(db_path), lease_s=60)
    job_ids = [f"job-{i}" for i in range(60)]
    for job_id in job_ids:
        queue.send(job_id)
    context = multiprocessing.get_context("fork")
    outputs = [tmp_path / f"out-{i}.txt" for i in range(4)]
    barrier = context.Barrier(len(outputs))
    processes = [context.Process(target=_consume, args=(str(db_path), str(out), barrier)) for out in outputs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    received = [line for out in outputs for line in out.read_text().splitlines() if line]
    assert [job for job, n in Counter(received).items() if n > 1] == []
    assert sorted(received) == sorted(job_ids)
    assert sum(1 for out in outputs if out.read_text()) >= 2  # the work really was shared
