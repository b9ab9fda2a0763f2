"""Loudness: renders normalised to a target and measured, checked against FFmpeg's ebur128."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autovid import samples
from autovid.render.pipeline import RenderResult
from autovid.render.report import HEAVY_LIMITING, LOUDNESS_GAIN_CAPPED
from autovid.spec.models import JobSpec

from .conftest import (
    SR,
    Media,
    Renderer,
    audio_event,
    decode_audio,
    ffmpeg_loudness,
    make_spec,
    rms_db,
    span,
    tts_event,
)

DURATION_S = 12.0


def _mix_spec(media: Media, loudness: dict[str, Any] | None, *, music_volume: float = 0.3) -> JobSpec:
    """12 s: a music bed of two 5 s tracks crossfading (1 s, at 4-5 s and 8-9 s) and looping;
    2.5 s of speech at 1 s and 5.5 s ducking the music; a whoosh at 5.2 s; a near-inaudible tone
    at 10-11.5 s that ducks the music to 0.25 (so the ducked window holds music only)."""
    video = media.video("h264_12s.mp4", duration_s=DURATION_S).name
    media.get("loop_a.wav", lambda p: samples.write_audio(p, samples.music_loop(5.0, seed=1)))
    media.get("loop_b.wav", lambda p: samples.write_audio(p, samples.music_loop(5.0, seed=2) * 0.8))
    media.effect("whoosh.wav", "whoosh")
    media.tone("faint.wav", 1.5, amplitude=0.0005)
    spec = make_spec(
        video,
        audio={"a": "loop_a.wav", "b": "loop_b.wav", "whoosh": "whoosh.wav", "faint": "faint.wav"},
        music={"playlist": ["a", "b"], "volume": music_volume, "crossfadeDuration": 1.0},
        timeline=[
            tts_event(1.0, "First.", duckingLevel=0.3),
            audio_event(5.2, "whoosh", volume=0.6),
            tts_event(5.5, "Second.", duckingLevel=0.3),
            audio_event(10.0, "faint", volume=1.0, duckingLevel=0.25, duckingFadeDuration=0.2),
        ],
    )
    return _with_loudness(spec, loudness)


def _with_loudness(spec: JobSpec, loudness: dict[str, Any] | None) -> JobSpec:
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    if loudness is not None:
        raw["output"]["loudness"] = loudness
    return JobSpec.model_validate(raw)


def _render(renderer: Renderer, spec: JobSpec) -> tuple[RenderResult, np.ndarray]:
    renderer.speech.duration_s = 2.5
    result = renderer(spec)
    return result, decode_audio(result.output_path)


def _assert_reported_matches(result: RenderResult, audio: np.ndarray) -> None:
    reference = ffmpeg_loudness(audio)
    report = result.audio
    assert report is not None and report.integrated_lufs is not None
    assert report.integrated_lufs == pytest.approx(reference.integrated_lufs, abs=0.3)
    assert report.true_peak_dbtp == pytest.approx(reference.true_peak_dbtp, abs=0.3)
    assert report.loudness_range == pytest.approx(reference.loudness_range, abs=0.3)


@pytest.mark.parametrize(("target", "lufs"), [(-14, -14.0), ("podcast", -16.0), ("broadcast", -23.0)])
def test_render_reaches_the_target(media: Media, renderer: Renderer, target: Any, lufs: float) -> None:
    result, audio = _render(renderer, _mix_spec(media, {"target": target}))
    measured = ffmpeg_loudness(audio)
    assert measured.integrated_lufs == pytest.approx(lufs, abs=0.5)
    assert measured.true_peak_dbtp <= -1.0 + 0.1
    assert result.audio is not None and result.audio.target_lufs == lufs
    _assert_reported_matches(result, audio)
    assert not [w for w in result.warnings if w.code == LOUDNESS_GAIN_CAPPED]


def test_a_render_without_target_is_measured_and_reported(media: Media, renderer: Renderer) -> None:
    result, audio = _render(renderer, _mix_spec(media, None))
    assert result.audio is not None and result.audio.target_lufs is None
    _assert_reported_matches(result, audio)
    assert result.audio.as_dict()["targetLufs"] is None


def test_true_peak_ceiling_is_the_specs(media: Media, renderer: Renderer) -> None:
    result, audio = _render(renderer, _mix_spec(media, {"target": -12, "truePeak": -3.0}))
    assert ffmpeg_loudness(audio).true_peak_dbtp <= -3.0 + 0.1
    _assert_reported_matches(result, audio)


def test_ducking_and_crossfades_keep_their_shape(media: Media, renderer: Renderer) -> None:
    """The normalised render is the plain one times one gain: window levels (crossfade seam at
    4-5 s, music before and inside the ducked window at 9.5-11 s) differ by that gain alone."""
    _, plain = _render(renderer, _mix_spec(media, None))
    _, loud = _render(renderer, _mix_spec(media, {"target": -16}))
    windows = [(8.6, 8.8), (8.8, 9.0), (9.0, 9.2), (9.2, 9.6), (9.6, 9.8), (10.0, 10.5), (10.5, 11.5)]
    offsets = np.array([rms_db(span(loud, *w)) - rms_db(span(plain, *w)) for w in windows])
    assert np.ptp(offsets) <= 0.3, offsets
    ducked = rms_db(span(plain, 10.0, 11.5)) - rms_db(span(plain, 9.0, 9.6))
    assert ducked == pytest.approx(20 * np.log10(0.25), abs=2.0)  # the ducking is really there


def test_a_louder_mix_is_turned_down(media: Media, renderer: Renderer) -> None:
    _, plain = _render(renderer, _mix_spec(media, None, music_volume=1.0))
    assert ffmpeg_loudness(plain).integrated_lufs > -20.0
    result, audio = _render(renderer, _mix_spec(media, {"target": "broadcast"}, music_volume=1.0))
    assert ffmpeg_loudness(audio).integrated_lufs == pytest.approx(-23.0, abs=0.5)
    _assert_reported_matches(result, audio)


def _faint_spec(media: Media, loudness: dict[str, Any] | None) -> JobSpec:
    video = media.video("h264_12s.mp4", duration_s=DURATION_S).name
    media.tone("quiet_tone.wav", 10.0, amplitude=0.002)
    spec = make_spec(video, audio={"quiet": "quiet_tone.wav"}, timeline=[audio_event(1.0, "quiet")])
    return _with_loudness(spec, loudness)


def test_a_near_silent_mix_is_raised_at_most_20_db(media: Media, renderer: Renderer) -> None:
    quiet = ffmpeg_loudness(decode_audio(renderer(_faint_spec(media, None)).output_path))
    result = renderer(_faint_spec(media, {"target": "podcast"}))
    audio = decode_audio(result.output_path)
    assert ffmpeg_loudness(audio).integrated_lufs == pytest.approx(quiet.integrated_lufs + 20.0, abs=0.5)
    (capped,) = [w for w in result.warnings if w.code == LOUDNESS_GAIN_CAPPED]
    assert "-16 LUFS" in capped.message and "+20 dB" in capped.message
    _assert_reported_matches(result, audio)


def test_a_silent_mix_with_a_target_says_why_it_stays_silent(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_12s.mp4", duration_s=DURATION_S).name
    result = renderer(_with_loudness(make_spec(video), {"target": "web"}))
    assert result.audio is not None and result.audio.integrated_lufs is None
    assert result.audio.target_lufs == -14.0
    (warning,) = [w for w in result.warnings if w.code == LOUDNESS_GAIN_CAPPED]
    assert "silent" in warning.message and "-14 LUFS" in warning.message
    assert np.max(np.abs(decode_audio(result.output_path))) < 1e-3


def test_heavy_limiting_is_reported(media: Media, renderer: Renderer) -> None:
    """Sparse clicks over a faint bed: reaching -8 LUFS drives the clicks far over the ceiling."""
    video = media.video("h264_12s.mp4", duration_s=DURATION_S).name

    def clicks(path: Any) -> None:
        x = np.zeros((1, round(10.0 * SR)), np.float32)
        x[0, :: SR // 4] = 0.9
        x += np.float32(0.01) * np.sin(2 * np.pi * 220 * np.arange(x.shape[1]) / SR, dtype=np.float32)
        samples.write_audio(path, x)

    media.get("clicks.wav", clicks)
    spec = make_spec(video, audio={"clicks": "clicks.wav"}, timeline=[audio_event(1.0, "clicks")])
    result = renderer(_with_loudness(spec, {"target": -8}))
    audio = decode_audio(result.output_path)
    (warning,) = [w for w in result.warnings if w.code == HEAVY_LIMITING]
    assert "-8 LUFS" in warning.message and "dB of limiting" in warning.message
    assert ffmpeg_loudness(audio).true_peak_dbtp <= -1.0 + 0.1
