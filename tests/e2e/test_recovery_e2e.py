"""Recovery after SIGKILL: a worker process killed mid-render, or the whole ``autovid serve``,
costs the job its render time again plus seconds, not the 60 s lease."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_jobs import SqliteJobStore
from autovid.bootstrap import DB_FILE
from autovid.client import AutovidClient
from autovid.entrypoints.api.runner import ServiceProcess

from .conftest import SERVICE_ENV
from .test_service_e2e import spec, wait_for

pytestmark = pytest.mark.slow
LEASE_ENV = {"AUTOVID_LEASE_SECONDS": "60"}  # the lease is not what brings the job back


def slow_job(client: Any, media: Any) -> str:
    video = client.upload(media.slow_video)["source"]
    music, blip = (client.upload(p)["source"] for p in (media.music, media.blip))
    slow = spec(video, music, blip)
    slow["output"]["encoding"] = {"preset": "veryfast", "fps": 30}  # a re-encode: seconds of work
    job_id: str = client.submit(slow)["jobId"]
    return job_id


def stale(doc: dict[str, Any], before: dict[str, Any]) -> bool:
    return doc["status"] == "processing" and doc["progress"]["percent"] >= before["progress"]["percent"]


def holder_pid(data_dir: Any, job_id: str) -> int:
    job = SqliteJobStore(Database(data_dir / DB_FILE)).get(job_id)
    assert job is not None and job.claim_holder, job
    return int(job.claim_holder.split("/")[-2])


def test_a_worker_killed_mid_render_is_replaced_within_seconds(start_service: Any, media: Any) -> None:
    service = start_service(workers=1, **LEASE_ENV)
    _, secret = service.new_key()
    with service.client(secret) as client:
        job_id = slow_job(client, media)
        before = wait_for(client, job_id, lambda d: d["progress"]["percent"] > 5, timeout_s=120)
        pid = holder_pid(service.data_dir, job_id)

        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        # Not "processing" frozen at the dead attempt's progress: retrying (and why) until taken
        # over, then processing from the start again.
        after = wait_for(client, job_id, lambda d: not stale(d, before), timeout_s=3)
        done = wait_for(client, job_id, lambda d: d["status"] in ("completed", "failed"), timeout_s=120)
        kill_to_completed_s = time.monotonic() - killed_at

    assert done["status"] == "completed", done
    if after["status"] == "retrying":
        assert "worker stopped" in after["statusReason"] and after["progress"]["percent"] == 0, after
    render_s = done["processingTime"]
    print(f"kill -9 of a worker: kill-to-completed {kill_to_completed_s:.2f} s, render {render_s:.2f} s")
    assert kill_to_completed_s < render_s + 5.0


def test_the_whole_service_killed_resumes_its_job_on_restart(start_service: Any, media: Any) -> None:
    service = start_service(workers=1, **LEASE_ENV)
    _, secret = service.new_key()
    with service.client(secret) as client:
        job_id = slow_job(client, media)
        wait_for(client, job_id, lambda d: d["progress"]["percent"] > 5, timeout_s=120)
    worker_pid = holder_pid(service.data_dir, job_id)
    assert service.process.pid is not None
    os.kill(service.process.pid, signal.SIGKILL)  # the whole service: supervisor and worker
    os.kill(worker_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    service.process.stop()

    restarted = ServiceProcess(
        service.data_dir, workers=1, env={**SERVICE_ENV, **LEASE_ENV}, log_path=service.data_dir / "2.log"
    )
    with restarted, AutovidClient(restarted.url, secret, max_throttle_wait_s=0) as client:
        started_s = time.monotonic() - killed_at
        done = wait_for(client, job_id, lambda d: d["status"] in ("completed", "failed"), timeout_s=120)
        kill_to_completed_s = time.monotonic() - killed_at

    assert done["status"] == "completed", done
    render_s = done["processingTime"]
    print(
        f"kill -9 of autovid serve: kill-to-completed {kill_to_completed_s:.2f} s "
        f"(restart {started_s:.2f} s, render {render_s:.2f} s)"
    )
    assert kill_to_completed_s < started_s + render_s + 5.0


def test_workers_of_a_killed_supervisor_finish_their_job_and_stop(start_service: Any, media: Any) -> None:
    service = start_service(workers=1, **LEASE_ENV)
    _, secret = service.new_key()
    with service.client(secret) as client:
        job_id = slow_job(client, media)
        wait_for(client, job_id, lambda d: d["progress"]["percent"] > 5, timeout_s=120)
    worker_pid = holder_pid(service.data_dir, job_id)
    assert service.process.pid is not None
    os.kill(service.process.pid, signal.SIGKILL)  # the supervisor alone
    service.process.stop()

    deadline = time.monotonic() + 60
    while Path(f"/proc/{worker_pid}").exists() and not _zombie(worker_pid):
        assert time.monotonic() < deadline, "the orphaned worker kept running"
        time.sleep(0.1)
    job = SqliteJobStore(Database(service.data_dir / DB_FILE)).get(job_id)

    assert job is not None and job.status.value == "completed", job  # within its shutdown grace


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].startswith("Z")
