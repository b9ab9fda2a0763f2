"""The worker loop: drain mode, a thread pool, housekeeping."""

from __future__ import annotations

import threading
import time

from autovid.entrypoints.workers import run_workers
from autovid.jobs.model import JobStatus
from autovid.jobs.processor import Outcome
from autovid.jobs.worker import run_worker, sweep


def test_drain_processes_everything_visible_then_returns(make, scripted, spec) -> None:
    env = make(scripted(duration_s=0.05))
    jobs = [env.service.submit(spec(), owner="key-a") for _ in range(3)]
    seen: list[tuple[str, Outcome]] = []
    handled = run_worker(
        env.container, threading.Event(), drain=True, on_outcome=lambda j, o: seen.append((j, o))
    )
    assert handled == 3
    assert sorted(seen) == sorted((j.job_id, Outcome.COMPLETED) for j in jobs)


def test_a_thread_pool_shares_the_jobs_and_stops_on_request(make, scripted, spec) -> None:
    render = scripted(duration_s=0.3)
    env = make(render)
    jobs = [env.service.submit(spec(), owner="key-a") for _ in range(4)]
    stop = threading.Event()
    pool = threading.Thread(target=run_workers, args=(env.container, 2, stop), kwargs={"mode": "thread"})
    pool.start()
    deadline = time.monotonic() + 30
    while not all(env.service.get(j.job_id, owner="key-a").status == JobStatus.COMPLETED for j in jobs):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stop.set()
    pool.join(10)
    assert not pool.is_alive()
    assert render.calls == 4 and render.max_running == 2


def test_sweep_purges_expired_jobs_their_outputs_and_orphaned_work_folders(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    env.processor.process(env.receive())
    output = env.container.blobs.path_for(env.service.get(job.job_id, owner="key-a").output.key)
    assert output.exists()
    orphan = env.processor.work_dir / f"{job.job_id}-deadbeef"
    orphan.mkdir(parents=True)
    env.store.update(job.job_id, {"expires_at": int(time.time()) - 1})

    sweep(env.container)

    assert not output.exists() and not orphan.exists()
    assert env.store.get(job.job_id) is None


def test_sweep_keeps_the_work_folder_of_a_held_claim(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    env.store.update(job.job_id, {"status": JobStatus.PROCESSING, "claim_token": "cafe"})
    live = env.processor.work_dir / f"{job.job_id}-cafe"
    live.mkdir(parents=True)
    sweep(env.container)
    assert live.exists()
