"""Real third-party media from ../shared/media (skipped when absent): recorded effects at 24, 44.1
and 48 kHz, mono and stereo, and a 29.97 fps H.264 video without audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autovid.render.media import AudioReader
from tests.integration.render.conftest import (
    SR,
    Media,
    Renderer,
    audio_event,
    decode_audio,
    make_spec,
    onset_s,
    rms_db,
    span,
    stream_durations_s,
    true_peak_db,
    video_duration_s,
    video_packets,
)

EFFECTS = {
    "ding": "ding-101492.mp3",  # mono, 44.1 kHz
    "pop": "pop-91931.mp3",  # 24 kHz
    "boom": "impact-cinematic-boom-5-352465.mp3",  # 48 kHz
    "cheers": "cheers.wav",
}


@pytest.fixture
def real_media(shared_dir: Path, media: Media) -> dict[str, str]:
    """Copies of the shared files inside the render media folder (the fake fetcher's root)."""
    names = {"video": "video/api_demo_video.mp4"} | {k: f"sfx/{v}" for k, v in EFFECTS.items()}
    local = {}
    for key, relative in names.items():
        target = media.folder / f"real_{Path(relative).name}"
        if not target.exists():
            shutil.copyfile(shared_dir / "media" / relative, target)
        local[key] = target.name
    return local


def test_real_video_and_effects(real_media: dict[str, str], renderer: Renderer, media: Media) -> None:
    starts = {"ding": 1.0, "pop": 4.0, "boom": 7.0, "cheers": 10.0}
    spec = make_spec(
        real_media["video"],
        audio={key: real_media[key] for key in EFFECTS},
        timeline=[audio_event(start, key, volume=1.0) for key, start in starts.items()],
    )
    result = renderer(spec)
    source = media.folder / real_media["video"]
    assert result.video_copied
    assert video_packets(result.output_path) == video_packets(source)
    assert stream_durations_s(result.output_path)["audio"] == pytest.approx(
        video_duration_s(source), abs=0.002
    )
    out = decode_audio(result.output_path)
    for key, start in starts.items():
        with AudioReader(media.folder / real_media[key]) as reader:
            own = reader.read(SR)  # the effect's first second, at 48 kHz
        lead_in_s = onset_s(own, 0.0, 1.0, fraction=0.1)  # recorded effects start with a little quiet
        assert onset_s(out, start - 0.5, start + 1.0, fraction=0.1) == pytest.approx(
            start + lead_in_s, abs=0.01
        ), key
    assert rms_db(span(out, 0.0, 0.9)) < -70
    assert true_peak_db(out) < -1.0
