"""autovid's BS.1770 meter against FFmpeg's ebur128 (an independent implementation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autovid import samples
from autovid.render.aac import FRAME_SAMPLES, PREROLL_SAMPLES, write_aac_track
from autovid.render.loudness import LoudnessMeter, StretchedLoudness, TruePeak, stretch_energy

from .conftest import SR, decode_audio, ffmpeg_loudness


def _stereo(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(x, (2, x.shape[-1])), dtype=np.float32)


def _varying_music() -> np.ndarray:
    """20 s of music whose level steps through 0, -12, -4 and -20 dB (a wide loudness range)."""
    music = np.tile(samples.music_loop(5.0, seed=3), (1, 4))
    levels = np.repeat(10 ** (np.array([0.0, -12.0, -4.0, -20.0]) / 20), 5 * SR).astype(np.float32)
    return music * levels


def _speech_and_pauses() -> np.ndarray:
    """Speech-like bursts with silences (the gates at work), stereo with different channels."""
    voice = samples.voice_like(3.0, seed=5)[0]
    gap = np.zeros(round(1.7 * SR), np.float32)
    left = np.concatenate([voice, gap, voice * 0.5, gap, voice * 0.2, gap])
    return np.stack([left, np.roll(left, 2000) * 0.7])


def _near_nyquist() -> np.ndarray:
    """A tone at fs/4 sampled 45 degrees off its peaks: inter-sample peaks 3 dB over the samples."""
    n = np.arange(12 * SR)
    return _stereo((0.5 * np.sin(2 * np.pi * (SR / 4) * n / SR + np.pi / 4)).astype(np.float32))


SIGNALS = {
    "varying music": _varying_music,
    "speech and pauses": _speech_and_pauses,
    "pink-ish noise": lambda: _stereo(np.cumsum(samples.noise(12.0, amplitude=0.05), axis=1) * 0.02),
}


@pytest.mark.parametrize("name", SIGNALS)
def test_meter_agrees_with_ffmpeg(name: str) -> None:
    signal = SIGNALS[name]()
    meter = LoudnessMeter(SR)
    for start in range(0, signal.shape[1], 32_768):
        meter.add(signal[:, start : start + 32_768])
    measured = meter.result()
    reference = ffmpeg_loudness(signal)
    assert measured.integrated_lufs == pytest.approx(reference.integrated_lufs, abs=0.2)
    assert measured.loudness_range == pytest.approx(reference.loudness_range, abs=0.2)
    assert measured.true_peak_dbtp == pytest.approx(reference.true_peak_dbtp, abs=0.2)


def test_true_peak_between_samples() -> None:
    """The peaks of this tone fall between samples, 3 dB over them: the meter finds the 0.5.
    (FFmpeg's ebur128 reads it 0.5 dB high: its resampler ripples.)"""
    signal = _near_nyquist()
    meter = LoudnessMeter(SR)
    meter.add(signal)
    assert meter.result().true_peak_dbtp == pytest.approx(20 * np.log10(0.5), abs=0.15)
    assert 20 * np.log10(np.abs(signal).max()) == pytest.approx(20 * np.log10(0.5) - 3.0, abs=0.05)


def test_block_sizes_do_not_change_the_figures() -> None:
    signal = _varying_music()
    results = []
    for size in (1000, 4800, 32_768, signal.shape[1]):
        meter = LoudnessMeter(SR)
        for start in range(0, signal.shape[1], size):
            meter.add(signal[:, start : start + size])
        results.append(meter.result())
    assert all(r == pytest.approx(results[0]) for r in results[1:])
    assert results[0].loudness_range is not None and results[0].loudness_range > 10.0


def test_silence_has_no_loudness() -> None:
    meter = LoudnessMeter(SR)
    meter.add(np.zeros((2, 5 * SR), np.float32))
    measured = meter.result()
    assert (measured.integrated_lufs, measured.loudness_range, measured.true_peak_dbtp) == (None, None, None)


def test_true_peak_of_separate_stretches_is_the_largest() -> None:
    peak = TruePeak()
    tone = _near_nyquist()
    peak.add(tone[:, :SR] * 0.5)
    peak.add(tone[:, SR : 2 * SR])
    assert peak.dbtp == pytest.approx(20 * np.log10(0.5), abs=0.15)  # the second stretch's


@pytest.mark.parametrize("loud_at_s", [0.0, 7.3, 19.98])
def test_the_aac_true_peak_is_the_decoded_files(tmp_path: Path, loud_at_s: float) -> None:
    """Quiet music with one loud burst (at the start, inside a middle segment, at the very end):
    the true peak taken from the segments as they are encoded is the decoded file's."""
    music = np.tile(samples.music_loop(5.0, seed=4), (1, 4)) * np.float32(0.05)
    burst = samples.voice_like(0.3, seed=2)[0] * np.float32(0.9)
    at = round(loud_at_s * SR)
    part = music[:, at : at + burst.size]
    part += burst[: part.shape[1]]
    peak = TruePeak()
    blocks = (music[:, i : i + 32_768] for i in range(0, music.shape[1], 32_768))
    write_aac_track(
        blocks, tmp_path / "a.m4a", sample_rate=SR, expected_samples=music.shape[1], true_peak=peak
    )
    assert peak.dbtp == pytest.approx(
        ffmpeg_loudness(decode_audio(tmp_path / "a.m4a")).true_peak_dbtp, abs=0.2
    )


def test_metering_beside_the_producer_measures_the_same() -> None:
    """On a thread of its own, a few blocks behind, the meter sees every block in order: the
    same figures and the same gain for a target as when the producer measures each block."""
    signal = _varying_music()
    blocks = [signal[:, start : start + 32_768] for start in range(0, signal.shape[1], 32_768)]
    inline, beside = LoudnessMeter(SR, profile=True), LoudnessMeter(SR, profile=True)
    for block in blocks:
        inline.add(block)
    passed = list(beside.metered_beside(iter(blocks)))
    assert all(a is b for a, b in zip(passed, blocks, strict=True))
    assert beside.result() == inline.result()
    assert beside.gain_for(-14, ceiling_dbfs=-2, max_gain_db=20) == inline.gain_for(
        -14, ceiling_dbfs=-2, max_gain_db=20
    )


def _whole_mix(signal: np.ndarray) -> tuple[float | None, float | None]:
    meter = LoudnessMeter(SR, true_peak=False)
    for start in range(0, signal.shape[1], 32_768):
        meter.add(signal[:, start : start + 32_768])
    measured = meter.result()
    return measured.integrated_lufs, measured.loudness_range


@pytest.mark.parametrize("frames", [3, 48, 352])
def test_stretches_measure_what_the_whole_mix_meter_does(frames: int) -> None:
    """The mix cut like the AAC segments (on the 1024-sample grid, so across 5 ms cells), each
    stretch K-weighted from its pre-roll on, added in a shuffled order: the whole mix's figures."""
    signal = np.concatenate([_varying_music(), _speech_and_pauses()[:, : 3 * SR + 123]], axis=1)
    length, total = frames * FRAME_SAMPLES, signal.shape[1]
    stretches = []
    for start in range(0, total, length):
        first, stop = max(0, start - PREROLL_SAMPLES), min(total, start + length)
        stretches.append(stretch_energy(signal[:, first:stop], first, start, stop, SR))
    loudness = StretchedLoudness(SR)
    for index in np.random.default_rng(frames).permutation(len(stretches)):
        loudness.include(stretches[index])
    measured = loudness.result()
    integrated, lra = _whole_mix(signal)
    assert integrated is not None and lra is not None and lra > 10.0
    assert measured.integrated_lufs == pytest.approx(integrated, abs=0.01)
    assert measured.loudness_range == pytest.approx(lra, abs=0.01)


def test_the_aac_encoders_measure_the_mix_they_are_given(tmp_path: Path) -> None:
    """Measured on the segments' workers, the figures are the whole-mix meter's and FFmpeg's."""
    signal = _varying_music()
    loudness = StretchedLoudness(SR)
    blocks = (signal[:, i : i + 32_768] for i in range(0, signal.shape[1], 32_768))
    write_aac_track(
        blocks, tmp_path / "a.m4a", sample_rate=SR, expected_samples=signal.shape[1], loudness=loudness
    )
    measured, (integrated, lra) = loudness.result(), _whole_mix(signal)
    assert measured.integrated_lufs == pytest.approx(integrated, abs=0.01)
    assert measured.loudness_range == pytest.approx(lra, abs=0.01)
    reference = ffmpeg_loudness(signal)
    assert measured.integrated_lufs == pytest.approx(reference.integrated_lufs, abs=0.2)
    assert measured.loudness_range == pytest.approx(reference.loudness_range, abs=0.2)
