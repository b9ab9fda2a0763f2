"""Per-job resource limits over real HTTP: a hostile upload fails at once, permanently, naming the
asset and the limit, and the worker (a real ``autovid worker`` process) stays small."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

WORKER_RSS_LIMIT_BYTES = 1024**3


def run_worker_process(api: Any, log: Path) -> int:
    """``autovid worker --drain`` on the API's data folder until the queue is empty; its peak RSS
    in bytes (``wait4`` reports this one child, not the largest child the test run ever had)."""
    settings = api.container.settings
    env = {
        **os.environ,
        "AUTOVID_DATA_DIR": str(settings.data_dir),
        "AUTOVID_SECRET_KEY": settings.secret_key.get_secret_value(),
        "AUTOVID_WEBHOOK_SECRET": settings.webhook_secret.get_secret_value(),
        "AUTOVID_TTS_ENGINE": "espeak",
    }
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "autovid", "worker", "--drain"], env=env, stdout=stderr, stderr=stderr
        )
        timer = threading.Timer(120, worker.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(worker.pid, 0)
        finally:
            timer.cancel()
    worker.returncode = os.waitstatus_to_exitcode(status)
    assert worker.returncode == 0, log.read_text()[-2000:]
    return usage.ru_maxrss * 1024  # kilobytes on Linux


def test_a_tiny_file_declaring_a_huge_frame_fails_at_once_and_the_worker_stays_small(
    api: Any, huge_frame_video: Path, minimal_spec: Any, tmp_path: Path
) -> None:
    # GIVEN a 71 KB upload whose H.264 stream declares 16384x16000 frames
    assert huge_frame_video.stat().st_size < 80_000
    _, secret = api.new_key()
    source = api.upload_video(secret, huge_frame_video)
    with api.client(secret) as client:
        job_id = client.post("/submit", json=minimal_spec(source)).json()["jobId"]

    # WHEN a real worker process takes the job
    peak_rss_bytes = run_worker_process(api, tmp_path / "worker.log")

    # THEN the job failed permanently on its first attempt, naming the asset and the limit
    with api.client(secret) as client:
        doc = client.get(f"/status/{job_id}").json()
    assert doc["status"] == "failed"
    assert doc["error"].startswith("asset 'main': its frames are 16384x16000")
    assert "AUTOVID_MAX_FRAME_WIDTH" in doc["error"]
    job = api.container.store.get(job_id)
    assert job.attempts == 1 and job.started_at is not None and job.completed_at is not None
    claimed_to_failed_s = (job.completed_at - job.started_at).total_seconds()
    assert claimed_to_failed_s < 1.0  # 147 s of CPU before
    assert peak_rss_bytes < WORKER_RSS_LIMIT_BYTES, f"worker peaked at {peak_rss_bytes / 1024**2:.0f} MB"


def test_more_speech_than_the_limit_is_refused_at_submit(
    api_factory: Any, tiny_video: Path, minimal_spec: Any
) -> None:
    api = api_factory(max_speech_chars=100)
    _, secret = api.new_key()
    spec = minimal_spec(api.upload_video(secret, tiny_video))
    spec["timeline"] = [
        {"start": 0.1, "type": "tts", "data": {"text": "a" * 60}},
        {"start": 0.5, "type": "tts", "data": {"text": "b" * 60}},
    ]
    with api.client(secret) as client:
        answer = client.post("/submit", json=spec)

    assert answer.status_code == 400, answer.text
    (detail,) = answer.json()["details"]
    assert detail["path"] == "timeline"
    assert detail["message"] == (
        "the speech events hold 120 characters together, over the limit of 100 per job "
        "(AUTOVID_MAX_SPEECH_CHARS)"
    )
    assert api.container.queue.counts()["visible"] == 0


def test_the_default_speech_limit_refuses_what_took_gigabytes(
    api: Any, tiny_video: Path, minimal_spec: Any
) -> None:
    """Nine events of 99 000 characters took 3.2 GB and 86 s to synthesize; 50 000 characters,
    the default for a whole job, take about 600 MB with espeak-ng."""
    _, secret = api.new_key()
    spec = minimal_spec(api.upload_video(secret, tiny_video))
    spec["timeline"] = [{"start": i, "type": "tts", "data": {"text": "a" * 99_000}} for i in range(9)]
    with api.client(secret) as client:
        answer = client.post("/submit", json=spec)

    assert answer.status_code == 400, answer.text
    (detail,) = answer.json()["details"]
    assert detail["path"] == "timeline" and "891000 characters" in detail["message"]
    assert "over the limit of 50000 per job (AUTOVID_MAX_SPEECH_CHARS)" in detail["message"]
