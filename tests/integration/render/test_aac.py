"""The segmented AAC encoder: seams must be indistinguishable from one encoder's output."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from autovid import samples
from autovid.render.aac import (
    FRAME_SAMPLES,
    MAX_SEGMENT_SAMPLES,
    MIN_SEGMENT_SAMPLES,
    PREROLL_SAMPLES,
    SOUND_END_FRAMES,
    segment_schedule,
    write_aac_track,
)
from tests.integration.render.conftest import SR, decode_audio

SEGMENT = 48 * FRAME_SAMPLES  # ~1 s, so a few seconds of audio cross several seams


def program(seconds: float) -> np.ndarray:
    """Music, a voice and a sharp burst just before every seam: a hard case for the seams."""
    n = round(seconds * SR)
    music = np.tile(samples.music_loop(4.0), (1, int(np.ceil(seconds / 4))))[:, :n] * 0.3
    voice = np.tile(samples.voice_like(2.0), (2, int(np.ceil(seconds / 2))))[:, :n] * 0.6
    mix = music + voice
    rng = np.random.default_rng(1)
    for seam in range(SEGMENT, n, SEGMENT):
        burst = rng.standard_normal(1500) * 0.3 * np.exp(-np.arange(1500) / 250)
        mix[:, seam - 400 : seam + 1100] += burst
    return mix.astype(np.float32)


def encode(signal: np.ndarray, path: Path, block: int = 10_000, **kwargs: object) -> int:
    blocks = (signal[:, i : i + block] for i in range(0, signal.shape[1], block))
    return write_aac_track(blocks, path, sample_rate=SR, **kwargs)  # type: ignore[arg-type]


def error_db(decoded: np.ndarray, signal: np.ndarray, start: int, stop: int) -> float:
    diff = decoded[:, start:stop] - signal[:, start:stop]
    return float(10 * np.log10(np.mean(np.square(diff, dtype=np.float64)) + 1e-20))


def test_seams_code_as_well_as_a_single_encoder(tmp_path: Path) -> None:
    signal = program(6.0)
    n = signal.shape[1]
    encode(signal, tmp_path / "single.m4a", workers=1, segment_samples=1024 * FRAME_SAMPLES)
    encode(signal, tmp_path / "split.m4a", workers=2, segment_samples=SEGMENT)
    single = decode_audio(tmp_path / "single.m4a")[:, :n]
    split = decode_audio(tmp_path / "split.m4a")[:, :n]
    assert error_db(split, signal, 0, n) == pytest.approx(error_db(single, signal, 0, n), abs=0.5)
    for seam in range(SEGMENT, n, SEGMENT):
        around = (seam - 2048, seam + 2048)
        assert error_db(split, signal, *around) < error_db(single, signal, *around) + 3.0, f"seam at {seam}"
    assert error_db(split, signal, 0, n) < -30  # and the coding itself is good


def test_packets_form_one_continuous_stream(tmp_path: Path) -> None:
    signal = samples.tone(3.3, freq_hz=440.0, amplitude=0.5)
    produced = encode(signal, tmp_path / "tone.m4a", block=7_777, workers=2, segment_samples=SEGMENT)
    assert produced == signal.shape[1]
    with av.open(str(tmp_path / "tone.m4a")) as container:
        stream = container.streams.audio[0]
        pts = [p.pts for p in container.demux(stream) if p.size]
        assert float(stream.duration * stream.time_base) == pytest.approx(3.3, abs=1 / SR)
    assert pts[0] == -FRAME_SAMPLES and np.all(np.diff(pts) == FRAME_SAMPLES)
    decoded = decode_audio(tmp_path / "tone.m4a")
    assert signal.shape[1] <= decoded.shape[1] <= signal.shape[1] + FRAME_SAMPLES
    worst = np.abs(decoded[:, : signal.shape[1]] - signal).max()
    assert worst < 0.05  # no click anywhere, seams included


@pytest.mark.parametrize("seconds", [0.05, SEGMENT / SR, 2 * SEGMENT / SR + 0.01])
def test_short_and_boundary_lengths(tmp_path: Path, seconds: float) -> None:
    signal = samples.tone(seconds, freq_hz=300.0, amplitude=0.4)
    n = signal.shape[1]
    encode(signal, tmp_path / "split.m4a", block=4_096, workers=2, segment_samples=SEGMENT)
    encode(signal, tmp_path / "single.m4a", workers=1, segment_samples=1024 * FRAME_SAMPLES)
    with av.open(str(tmp_path / "split.m4a")) as container:
        assert container.streams.audio[0].duration == n
    split_error = np.abs(decode_audio(tmp_path / "split.m4a")[:, :n] - signal).max()
    single_error = np.abs(decode_audio(tmp_path / "single.m4a")[:, :n] - signal).max()
    assert split_error < single_error * 1.5 + 0.005  # the abrupt end dominates both


def test_segment_size_must_follow_the_frame_grid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 1024"):
        encode(samples.tone(0.1), tmp_path / "x.m4a", segment_samples=1000)


@pytest.mark.parametrize("seconds", [0.5, 2.0, 5.0, 20.0, 60.0, 600.0])
def test_schedule_covers_the_mix_short_at_both_ends(seconds: float) -> None:
    expected = round(seconds * SR)
    lengths = segment_schedule(expected)
    assert all(length % FRAME_SAMPLES == 0 for length in lengths)
    assert expected <= sum(lengths) < expected + FRAME_SAMPLES  # whole frames, nothing left over
    if sum(lengths) > 4 * MIN_SEGMENT_SAMPLES:  # long enough for short ends and long middles
        assert lengths[0] == lengths[-1] == MIN_SEGMENT_SAMPLES
        assert max(lengths) <= MAX_SEGMENT_SAMPLES + MIN_SEGMENT_SAMPLES
        assert all(length >= MIN_SEGMENT_SAMPLES for length in lengths)


def test_a_segment_starts_just_after_each_sound_end() -> None:
    expected = 60 * SR
    plain = segment_schedule(expected)
    grid = SOUND_END_FRAMES * FRAME_SAMPLES
    ends = [round(4.3 * SR), round(40.2 * SR), 136 * FRAME_SAMPLES - 100]  # the last: at a scheduled start
    lengths = segment_schedule(expected, ends)
    starts = set(itertools.accumulate(lengths[:-1]))
    assert sum(lengths) == sum(plain) and all(length % FRAME_SAMPLES == 0 for length in lengths)
    for end in ends[:2]:  # the first start whose pre-roll lies wholly after the sound
        assert -(-(end + PREROLL_SAMPLES) // grid) * grid in starts
    assert starts == set(itertools.accumulate(plain[:-1])) | {
        -(-(end + PREROLL_SAMPLES) // grid) * grid for end in ends[:2]
    }  # none for a sound ending next to a scheduled start: no tiny segment


def test_scheduled_segments_splice_like_a_single_encoder(tmp_path: Path) -> None:
    """The render's own segmentation (from the expected length) keeps the stream continuous."""
    signal = program(9.0)
    n = signal.shape[1]
    produced = encode(signal, tmp_path / "scheduled.m4a", workers=2, expected_samples=n)
    encode(signal, tmp_path / "single.m4a", workers=1, segment_samples=1024 * FRAME_SAMPLES)
    assert produced == n
    with av.open(str(tmp_path / "scheduled.m4a")) as container:
        pts = [p.pts for p in container.demux(container.streams.audio[0]) if p.size]
    assert np.all(np.diff(pts) == FRAME_SAMPLES)
    scheduled = decode_audio(tmp_path / "scheduled.m4a")[:, :n]
    single = decode_audio(tmp_path / "single.m4a")[:, :n]
    assert error_db(scheduled, signal, 0, n) == pytest.approx(error_db(single, signal, 0, n), abs=0.5)
