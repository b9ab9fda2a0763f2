"""The embedded service end to end: submit over HTTP, real workers render, signed URL, webhook,
cancel, failures, the CLI client, key administration, graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from autovid.adapters.http.webhooks import verify_signature
from autovid.adapters.local.espeak import EspeakEngine
from autovid.client import AutovidClient
from autovid.spec.models import TtsData
from autovid.speech.synthesizer import SpeechSynthesizer, speech_request

pytestmark = pytest.mark.slow

WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"


def spec(video: str, music: str, blip: str, **extra: Any) -> dict[str, Any]:
    return {
        "jobInfo": {"projectId": "e2e", "title": "End to end"},
        "assets": {
            "video": {"id": "main", "source": video},
            "audio": [{"id": "music", "source": music}, {"id": "blip", "source": blip}],
        },
        "backgroundMusic": {"playlist": ["music"], "volume": 0.3, "crossfadeDuration": 0.5},
        "timeline": [
            {"start": 0.2, "type": "tts", "data": {"text": "Hello there.", "duckingLevel": 0.3}},
            {"start": 1.2, "type": "audio", "data": {"assetId": "blip", "volume": 0.8}},
        ],
        "output": {"filename": "e2e.mp4", "encoding": {"preset": "ultrafast"}},
        **extra,
    }


def uploaded_spec(client: AutovidClient, media: Any, **extra: Any) -> dict[str, Any]:
    sources = [client.upload(p)["source"] for p in (media.video, media.music, media.blip)]
    return spec(*sources, **extra)


def wait_for(client: AutovidClient, job_id: str, predicate: Any, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        doc = client.status(job_id)
        if predicate(doc):
            return doc
        assert time.monotonic() < deadline, f"job stuck: {doc}"
        time.sleep(0.05)


def decode(path: Path) -> tuple[str, str, float]:
    with av.open(str(path)) as media:
        video_codec = media.streams.video[0].codec_context.name
        audio_codec = media.streams.audio[0].codec_context.name
        duration_s = float(media.duration or 0) / av.time_base
    return video_codec, audio_codec, duration_s


def mono(path: Path, rate: int = 16_000) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    with av.open(str(path)) as media:
        chunks = [r.to_ndarray().reshape(-1) for f in media.decode(audio=0) for r in resampler.resample(f)]
    return np.concatenate(chunks).astype(np.float64)


def speech_offset_s(output: Path, tmp_path: Path, rate: int = 16_000) -> float:
    """Where the event's speech, synthesized here alone, sits in ``output``'s audio: the lag of
    their cross-correlation's peak, which must also stand out from the music and the effect."""
    request = speech_request(TtsData(text="Hello there."))
    speech = mono(SpeechSynthesizer(EspeakEngine(), tmp_path / "speech").synthesize(request), rate)
    mixed = mono(output, rate)
    size = len(mixed) + len(speech)
    correlation = np.fft.irfft(np.fft.rfft(mixed, size) * np.conj(np.fft.rfft(speech, size)), size)
    lags = correlation[: len(mixed)]
    lag = int(np.argmax(lags))
    window = mixed[lag : lag + len(speech)]
    similarity = lags[lag] / (np.linalg.norm(window) * np.linalg.norm(speech[: len(window)]) + 1e-12)
    assert similarity > 0.5, f"the speech is not in the output (similarity {similarity:.2f})"
    return lag / rate


def test_a_job_completes_with_a_playable_mp4_and_a_signed_webhook(
    service: Any, media: Any, webhook_receiver: Any, tmp_path: Path
) -> None:
    key_id, secret = service.new_key()
    with service.client(secret) as client:
        job_spec = uploaded_spec(
            client,
            media,
            notifications={
                "webhook": {
                    "url": webhook_receiver.url("/hooks/autovid"),
                    "headers": {"X-Team": "video"},
                    "metadata": {"project": "demo", "priority": "high"},
                }
            },
        )
        job_id = client.submit(job_spec)["jobId"]
        doc = client.wait(job_id, poll_s=0.1, timeout_s=120)
        assert doc["status"] == "completed", doc["error"]
        output = client.download(doc["output"]["url"], tmp_path / "out.mp4")

    video_codec, audio_codec, duration_s = decode(output)
    assert (video_codec, audio_codec) == ("h264", "aac")
    assert duration_s == pytest.approx(2.0, abs=0.1)
    assert speech_offset_s(output, tmp_path) == pytest.approx(0.2, abs=0.02)  # the TTS event's start
    assert doc["output"]["size"] == output.stat().st_size

    webhook_receiver.wait_for(1, timeout_s=10)
    with service.client(secret) as client:  # "done" once the webhook is delivered
        wait_for(client, job_id, lambda d: d["progress"] == {"stage": "done", "percent": 100.0}, timeout_s=10)
    (hook,) = webhook_receiver.received()
    assert hook.path == "/hooks/autovid" and hook.headers["X-Team"] == "video"
    timestamp = hook.headers["X-Autovid-Timestamp"]
    assert verify_signature(
        WEBHOOK_SECRET.encode(), timestamp, hook.body, hook.headers["X-Autovid-Signature"]
    )
    assert hook.headers["X-Autovid-Signature"].startswith("sha256=")
    payload = hook.json()
    assert payload["jobId"] == job_id and payload["status"] == "completed"
    assert payload["metadata"] == {"project": "demo", "priority": "high"}
    assert payload["jobInfo"] == {"projectId": "e2e", "title": "End to end"}
    assert payload["output"]["url"].startswith(f"{service.url}/files/outputs/{key_id}/{job_id}/")
    assert "progress" not in payload


def test_an_unreadable_asset_fails_the_job_naming_it(service: Any, media: Any) -> None:
    _, secret = service.new_key()
    with service.client(secret) as client:
        video, broken, blip = (client.upload(p)["source"] for p in (media.video, media.broken, media.blip))
        job_id = client.submit(spec(video, broken, blip))["jobId"]
        doc = client.wait(job_id, poll_s=0.1, timeout_s=60)

    assert doc["status"] == "failed"
    assert "music" in doc["error"]  # the asset's id
    assert doc["output"]["url"] is None


def test_a_running_job_is_cancelled_and_stops(service: Any, media: Any) -> None:
    _, secret = service.new_key()
    with service.client(secret) as client:
        video = client.upload(media.slow_video)["source"]
        music, blip = (client.upload(p)["source"] for p in (media.music, media.blip))
        slow = spec(video, music, blip)
        slow["output"]["encoding"] = {"preset": "slow", "fps": 30}  # a re-encode: seconds of work
        job_id = client.submit(slow)["jobId"]
        wait_for(client, job_id, lambda d: d["status"] == "processing")
        asked_at = time.monotonic()
        client.cancel(job_id)
        doc = wait_for(client, job_id, lambda d: d["status"] != "processing", timeout_s=15)
        stopped_s = time.monotonic() - asked_at

    assert doc["status"] == "cancelled"
    assert doc["output"]["url"] is None
    assert stopped_s < 5
    assert not list((service.data_dir / "files" / "outputs").glob(f"{job_id}/*"))


def test_the_cli_uploads_local_files_submits_waits_and_downloads(
    service: Any, media: Any, tmp_path: Path
) -> None:
    import json

    _, secret = service.new_key()
    for path in (media.video, media.music, media.blip):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    local = spec(media.video.name, media.music.name, media.blip.name)
    local["output"]["destination"] = "out"  # local: dropped, the service stores outputs itself
    (tmp_path / "job.json").write_text(json.dumps(local))
    env = {**os.environ, "AUTOVID_URL": service.url, "AUTOVID_API_KEY": secret}

    submitted = subprocess.run(
        [sys.executable, "-m", "autovid", "submit", "job.json", "--wait", "-o", "got.mp4", "--poll", "0.2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    url = submitted.stdout.strip().splitlines()[-1]
    assert url.startswith(f"{service.url}/files/outputs/")
    assert decode(tmp_path / "got.mp4")[:2] == ("h264", "aac")
    assert submitted.stderr.count("uploading") == 3

    job_id = url.split("/files/outputs/")[1].split("/")[1]  # outputs/<key id>/<job id>/…
    status = subprocess.run(
        [sys.executable, "-m", "autovid", "status", job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"

    unknown = subprocess.run(
        [sys.executable, "-m", "autovid", "status", "no-such-job"], env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 1 and "Job not found" in unknown.stderr


def test_keys_are_created_listed_and_revoked_from_the_cli(service: Any) -> None:
    def autovid(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "autovid", "keys", *args, "--data-dir", str(service.data_dir)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    created = autovid("create", "--name", "ci-bot", "--rate", "5", "--burst", "10", "--quota", "0")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    key_id = created.stderr.split("created ")[1].split(" ")[0]
    assert secret.startswith("avk_") and key_id.startswith("key_")

    listed = autovid("list")
    assert key_id in listed.stdout and "ci-bot" in listed.stdout and "5/s, burst 10" in listed.stdout
    assert secret not in listed.stdout + listed.stderr

    headers = {"X-API-Key": secret}
    assert httpx.get(f"{service.url}/jobs", headers=headers).status_code == 200
    assert autovid("revoke", key_id).returncode == 0
    refused = httpx.get(f"{service.url}/jobs", headers=headers)
    assert refused.status_code == 403 and refused.json() == {"message": "Forbidden"}
    assert autovid("revoke", "key_nope").returncode == 1


def test_sigterm_lets_the_worker_finish_its_job(start_service: Any, media: Any) -> None:
    service = start_service(workers=1)
    _, secret = service.new_key()
    with service.client(secret) as client:
        video = client.upload(media.slow_video)["source"]
        music, blip = (client.upload(p)["source"] for p in (media.music, media.blip))
        slow = spec(video, music, blip)
        slow["output"]["encoding"] = {"preset": "veryfast", "fps": 30}
        job_id = client.submit(slow)["jobId"]
        wait_for(client, job_id, lambda d: d["status"] == "processing")

    signalled_at = datetime.now(UTC)
    exit_code = service.process.stop(timeout_s=60)

    assert exit_code == 0, service.process.log_tail()
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.sqlite_jobs import SqliteJobStore

    job = SqliteJobStore(Database(service.data_dir / "autovid.db")).get(job_id)
    assert job is not None and job.status.value == "completed", job and job.error
    assert job.completed_at is not None and job.completed_at > signalled_at  # it was running at the signal


def test_separate_worker_processes_share_the_data_folder(start_service: Any, media: Any) -> None:
    service = start_service(workers=0)  # the API alone
    _, secret = service.new_key()
    with service.client(secret) as client:
        job_id = client.submit(uploaded_spec(client, media))["jobId"]
        assert client.status(job_id)["status"] == "submitted"

        env = {**os.environ, "AUTOVID_DATA_DIR": str(service.data_dir), "LOG_LEVEL": "WARNING"}
        worker_started_at = datetime.now(UTC)
        worker = subprocess.Popen([sys.executable, "-m", "autovid", "worker", "--count", "1"], env=env)
        try:
            doc = client.wait(job_id, poll_s=0.1, timeout_s=120)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker_exit = worker.wait(60)

    assert doc["status"] == "completed", doc["error"]
    assert worker_exit == 0
    # the API alone renders nothing: the job started only once the separate worker ran
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.sqlite_jobs import SqliteJobStore

    job = SqliteJobStore(Database(service.data_dir / "autovid.db")).get(job_id)
    assert job is not None and job.started_at is not None and job.started_at > worker_started_at
    assert job.attempts == 1


def test_the_demo_runs_the_service_end_to_end(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    repo_examples = Path(__file__).resolve().parents[2] / "examples"
    (examples / "welcome.spec.json").write_bytes((repo_examples / "welcome.spec.json").read_bytes())

    demo = subprocess.run(
        [sys.executable, "-m", "autovid.demo"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    assert demo.returncode == 0, demo.stderr
    output = Path(demo.stdout.strip().splitlines()[-1])
    assert output == tmp_path / "out" / "welcome.mp4"
    video_codec, audio_codec, duration_s = decode(output)
    assert (video_codec, audio_codec) == ("h264", "aac")
    assert duration_s == pytest.approx(14.0, abs=0.1)
    assert "stopping the service (SIGTERM)" in demo.stderr and "completed" in demo.stderr


def test_the_status_and_the_webhook_report_the_audio_and_the_warnings(
    service: Any, media: Any, webhook_receiver: Any
) -> None:
    _, secret = service.new_key()
    with service.client(secret) as client:
        job_spec = uploaded_spec(client, media, notifications={"webhook": {"url": webhook_receiver.url()}})
        job_spec["output"]["loudness"] = {"target": "podcast", "truePeak": -2}
        job_spec["timeline"].append({"start": 1.95, "type": "audio", "data": {"assetId": "blip"}})
        job_id = client.submit(job_spec)["jobId"]
        doc = client.wait(job_id, poll_s=0.1, timeout_s=120)
    assert doc["status"] == "completed", doc["error"]
    audio = doc["output"]["audio"]
    assert set(audio) == {"integratedLufs", "truePeakDbtp", "loudnessRange", "targetLufs"}
    assert audio["targetLufs"] == -16.0
    assert audio["integratedLufs"] == pytest.approx(-16.0, abs=1.0)  # 2 s: a few gating blocks only
    assert audio["truePeakDbtp"] <= -2.0 + 0.1
    codes = [w["code"] for w in doc["warnings"]]
    assert "clip_cut_at_end" in codes and "voice_substituted" in codes
    cut = next(w for w in doc["warnings"] if w["code"] == "clip_cut_at_end")
    assert cut["message"].startswith("timeline[2] (audio asset 'blip') runs past the video's end")
    (hook,) = webhook_receiver.wait_for(1)
    payload = hook.json()
    assert payload["output"]["audio"] == audio and payload["warnings"] == doc["warnings"]
