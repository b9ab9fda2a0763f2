"""The processor with the real render engine, asset fetcher and espeak-ng on tiny media."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from autovid import samples
from autovid.bootstrap import bootstrap
from autovid.config import Settings
from autovid.entrypoints.workers import run_workers
from autovid.jobs.model import JobStatus
from autovid.jobs.processor import Outcome

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("autovid.render.pipeline") is None,
        reason="the render engine (autovid.render.pipeline) is not in this tree yet",
    ),
]


def _spec() -> dict:
    return {
        "jobInfo": {"projectId": "p", "title": "real"},
        "assets": {
            "video": {"id": "main", "source": "assets/key-a/base.mp4"},
            "audio": [
                {"id": "music", "source": "assets/key-a/music.wav"},
                {"id": "blip", "source": "assets/key-a/blip.wav"},
            ],
        },
        "backgroundMusic": {"playlist": ["music"], "volume": 0.3, "crossfadeDuration": 0.5},
        "timeline": [
            {
                "start": 0.2,
                "type": "tts",
                "data": {"text": "Hello.", "provider": "espeak-ng", "duckingLevel": 0.3},
            },
            {"start": 1.0, "type": "audio", "data": {"assetId": "blip", "volume": 0.8}},
        ],
        "output": {"filename": "real.mp4", "encoding": {"preset": "ultrafast"}},
    }


def _container(tmp_path: Path, **settings):
    container = bootstrap(Settings(data_dir=tmp_path / "data", public_url="http://autovid.test", **settings))
    samples.make_video(tmp_path / "base.mp4", duration_s=2.0, fps=10)
    samples.make_music_loop(tmp_path / "music.wav", duration_s=2.0)
    samples.make_effect(tmp_path / "blip.wav", "blip")
    for name in ("base.mp4", "music.wav", "blip.wav"):
        container.blobs.put_file(f"assets/key-a/{name}", tmp_path / name)
    return container


def test_a_real_render_completes_with_a_playable_output(tmp_path: Path) -> None:
    from autovid.render.media import probe

    container = _container(tmp_path)
    job = container.service.submit(_spec(), owner="key-a")
    (message,) = container.queue.receive(wait_s=1)

    assert container.processor.process(message) == Outcome.COMPLETED

    done = container.service.get(job.job_id, owner="key-a")
    assert done.status == JobStatus.COMPLETED, done.error
    path = container.blobs.path_for(done.output.key)
    info = probe(path)
    assert info.video is not None and info.video.codec == "h264"
    assert info.audio is not None and info.audio.codec == "aac"
    assert abs(done.output.duration_s - 2.0) < 0.1
    with av.open(str(path)) as media:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in media.decode(audio=0)])
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 0.01  # the mix is audible
    assert done.progress.stage == "done" and done.progress.percent == 100.0


def test_a_process_pool_renders_jobs_from_settings_alone(tmp_path: Path) -> None:
    container = _container(tmp_path, lease_s=5.0)
    jobs = [container.service.submit(_spec(), owner="key-a") for _ in range(2)]
    stop = threading.Event()
    pool = threading.Thread(target=run_workers, args=(container, 2, stop), kwargs={"mode": "process"})
    pool.start()
    try:
        for _ in range(600):
            if all(container.service.get(j.job_id, owner="key-a").status.terminal for j in jobs):
                break
            stop.wait(0.1)
    finally:
        stop.set()
        pool.join(60)
    assert not pool.is_alive()
    statuses = [container.service.get(j.job_id, owner="key-a") for j in jobs]
    assert [j.status for j in statuses] == [JobStatus.COMPLETED] * 2, [j.error for j in statuses]
