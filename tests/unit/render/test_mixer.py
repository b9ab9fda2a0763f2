"""The mixer and limiter on in-memory sources: pure numpy, no files."""

from __future__ import annotations

import numpy as np
import pytest

from autovid.errors import JobCancelledError
from autovid.render.mixer import Limiter, Mixer, _oversampling_filters, _true_peak
from autovid.render.plan import Clip, DuckRange, Plan, Source

SR = 48_000


class ArraySource:
    """A ``SampleSource`` over an array, recording how it is used."""

    def __init__(self, samples: np.ndarray, log: list[str], name: str) -> None:
        self.samples = samples
        self.position = 0
        self.closed = False
        self.largest_read = 0
        self._log, self._name = log, name
        log.append(f"open {name}")

    def read(self, count: int) -> np.ndarray:
        self.largest_read = max(self.largest_read, count)
        out = np.zeros((self.samples.shape[0], count), dtype=np.float32)
        chunk = self.samples[:, self.position : self.position + count]
        out[:, : chunk.shape[1]] = chunk
        self.position += count
        return out

    def skip(self, count: int) -> None:
        self.position += count

    def close(self) -> None:
        self.closed = True
        self._log.append(f"close {self._name}")


class Library:
    """Opens ``ArraySource``s by source name and remembers them."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.log: list[str] = []
        self.opened: list[ArraySource] = []

    def open(self, source: Source) -> ArraySource:
        reader = ArraySource(self.arrays[source.name], self.log, source.name)
        self.opened.append(reader)
        return reader


def noise(seconds: float, rms: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, round(seconds * SR))) * rms).astype(np.float32)


def sines(seconds: float, amplitude: float, freqs: tuple[float, ...] = (220.0, 330.0, 440.0)) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    mono = sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate(freqs)) * amplitude / len(freqs)
    return np.stack([mono, mono]).astype(np.float32)


def render(plan: Plan, library: Library, **kwargs: object) -> np.ndarray:
    mixer = Mixer(plan, library.open, **kwargs)  # type: ignore[arg-type]
    return np.concatenate(list(mixer.blocks()), axis=1)


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def windows_rms_db(x: np.ndarray, start: int, stop: int, width: int) -> np.ndarray:
    return np.array([rms_db(x[:, i : i + width]) for i in range(start, stop - width + 1, width)])


def clip(name: str, start: int, length: int, **kwargs: object) -> Clip:
    bus = kwargs.pop("bus", "events")
    return Clip(Source("asset", name), bus, start=start, length=length, **kwargs)  # type: ignore[arg-type]


def test_output_length_is_the_plan_length_for_any_block_size() -> None:
    plan = Plan(SR, 3 * SR + 17, (clip("a", 100, SR),), ())
    for block in (1000, 4096, 32_768, 10 * SR):
        out = render(plan, Library({"a": noise(1, 0.1, 0)}), block_samples=block)
        assert out.shape == (2, 3 * SR + 17) and out.dtype == np.float32


def test_block_boundaries_are_seamless_even_while_limiting() -> None:
    arrays = {"loud": sines(2.0, 1.6), "music": noise(3, 0.2, 1)}
    clips = (
        clip("music", 0, 3 * SR, bus="music", gain=0.5),
        clip("loud", SR // 3, 2 * SR),
    )
    plan = Plan(SR, 3 * SR, clips, (DuckRange(SR // 4, SR // 3, SR, SR + 2000, 0.3),))
    small = render(plan, Library(arrays), block_samples=997)
    large = render(plan, Library(arrays), block_samples=65_536)
    assert np.allclose(small, large, atol=1e-6)


def test_sources_open_when_their_clip_starts_and_close_when_it_ends() -> None:
    library = Library({name: noise(1, 0.1, i) for i, name in enumerate("abc")})
    plan = Plan(SR, 4 * SR, (clip("a", 0, SR), clip("b", 2 * SR, SR), clip("c", 3 * SR, SR // 2)), ())
    mixer = Mixer(plan, library.open, block_samples=SR // 2)
    seen: list[list[str]] = []
    for _ in mixer.blocks():
        seen.append(list(library.log))
    assert library.log == ["open a", "close a", "open b", "close b", "open c", "close c"]
    assert seen[0] == ["open a"]  # b is not opened while only a plays
    assert all(r.closed for r in library.opened)
    assert max(r.largest_read for r in library.opened) <= SR // 2  # reads are block-sized


def test_abandoned_or_cancelled_mix_closes_its_sources() -> None:
    library = Library({"a": noise(4, 0.1, 0)})
    plan = Plan(SR, 4 * SR, (clip("a", 0, 4 * SR),), ())
    calls = 0

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise JobCancelledError("cancelled")

    with pytest.raises(JobCancelledError):
        render(plan, library, block_samples=SR // 2, checkpoint=checkpoint)
    assert calls == 3 and library.opened[0].closed


def test_event_lands_on_its_exact_sample_with_its_gain() -> None:
    burst = np.ones((1, 100), dtype=np.float32) * 0.5  # mono source: broadcast to both channels
    plan = Plan(SR, SR, (clip("b", 12_345, 100, gain=0.8),), ())
    out = render(plan, Library({"b": burst}), block_samples=4096)
    nonzero = np.flatnonzero(out[0])
    assert nonzero[0] == 12_345 and nonzero[-1] == 12_444
    assert np.allclose(out[:, 12_345:12_445], 0.4) and np.array_equal(out[0], out[1])


def test_offset_skips_into_the_source() -> None:
    ramp = np.tile(np.arange(SR, dtype=np.float32) / SR, (2, 1)) * 0.5
    plan = Plan(SR, 1000, (clip("r", 0, 1000, offset=500),), ())
    out = render(plan, Library({"r": ramp}))
    assert out[0, 0] == pytest.approx(ramp[0, 500])


def test_equal_power_crossfade_has_no_dip() -> None:
    fade = SR // 2
    first = clip("a", 0, 2 * SR, bus="music", fade_out_at=2 * SR - fade, fade_out=fade)
    second = clip("b", 2 * SR - fade, 2 * SR, bus="music", fade_in=fade)
    plan = Plan(SR, 3 * SR, (first, second), ())
    out = render(plan, Library({"a": noise(2, 0.1, 1), "b": noise(2, 0.1, 2)}))
    levels = windows_rms_db(out, SR // 2, int(2.5 * SR), SR // 50)
    assert levels.max() - levels.min() < 1.0  # steady through the seam (20 ms windows)


def test_ducking_multiplies_only_the_music() -> None:
    music = np.full((2, 2 * SR), 0.5, dtype=np.float32)
    voice = np.full((2, SR), 0.1, dtype=np.float32)
    duck = DuckRange(ramp_start=SR // 2, level_start=SR, level_end=int(1.5 * SR), ramp_end=2 * SR, level=0.25)
    plan = Plan(SR, 2 * SR, (clip("m", 0, 2 * SR, bus="music"), clip("v", SR, SR // 2)), (duck,))
    out = render(plan, Library({"m": music, "v": voice}))
    assert out[0, SR // 4] == pytest.approx(0.5)
    assert out[0, SR + 100] == pytest.approx(0.5 * 0.25 + 0.1)
    assert out[0, int(0.75 * SR)] == pytest.approx(0.5 * (1 - 0.75 * 0.5), rel=1e-4)  # mid ramp


def test_limiter_is_transparent_below_the_ceiling() -> None:
    quiet = sines(1.0, 0.5)
    limiter = Limiter(sample_rate=SR)
    out = np.concatenate(
        [limiter.process(quiet[:, :30_000]), limiter.process(quiet[:, 30_000:]), limiter.flush()], 1
    )
    assert np.array_equal(out, quiet)


def test_limiter_keeps_true_peaks_under_the_ceiling() -> None:
    loud = sines(2.0, 3.0, (150.0, 1234.5, 4321.0)) + noise(2.0, 0.3, 5)
    limiter = Limiter(sample_rate=SR, ceiling_dbfs=-2.0)
    out = np.concatenate(
        [limiter.process(loud[:, i : i + 20_000]) for i in range(0, loud.shape[1], 20_000)], 1
    )
    out = np.concatenate([out, limiter.flush()], 1)
    assert out.shape == loud.shape
    upsampled = np.fft.irfft(np.fft.rfft(out, axis=1), 4 * out.shape[1], axis=1) * 4
    true_peak_db = 20 * np.log10(np.abs(upsampled).max())
    assert true_peak_db < -1.5
    assert limiter.max_reduction_db < -10  # it did have to work


def test_limiter_gain_changes_smoothly() -> None:
    signal = np.zeros((2, SR), dtype=np.float32)
    signal[:, SR // 2 :] = sines(0.5, 2.0, (440.0,))  # silence, then a sine peaking at 2.0
    limiter = Limiter(sample_rate=SR, ceiling_dbfs=-2.0)
    out = np.concatenate([limiter.process(signal), limiter.flush()], 1)
    where = np.flatnonzero(np.abs(signal[0]) > 0.5)
    gain = out[0, where] / signal[0, where]
    assert np.abs(out).max() <= 10 ** (-2.0 / 20)
    assert gain[-1] == pytest.approx(10 ** (-2.0 / 20) / 2.0, rel=0.01)  # steady: ceiling / peak
    assert np.abs(np.diff(gain)).max() < 0.01  # no jumps: it ramps down before the onset
    assert np.all(np.abs(out[0, : SR // 2 - 1000]) == 0)


def _interpolated_everywhere(signal: np.ndarray) -> np.ndarray:
    """The limiter's per-sample peak with every interpolated point computed (what it computed
    before it learnt to skip the stretches far under the ceiling)."""
    taps = _oversampling_filters()
    peak = np.max(np.abs(signal), axis=0).astype(np.float64)
    half = taps.shape[1] // 2
    for row in taps:
        for channel in signal:
            between = np.abs(np.convolve(channel, row[::-1], mode="full")[half : half + channel.size])
            np.maximum(peak, between, out=peak)
            np.maximum(peak[1:], between[:-1], out=peak[1:])
    return peak


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_limiter_interpolates_only_near_the_ceiling_with_the_same_gains(seed: int) -> None:
    """Skipping the quiet stretches changes no sample: where the peak can reach the ceiling it
    is the same number, bit for bit, and elsewhere the gain is 1 either way — so a render's
    AAC packets are the ones the full computation gives."""
    rng = np.random.default_rng(seed)
    signal = noise(3.0, 0.05, seed)  # quiet, with loud bursts and a hot edge at each end
    for at in rng.integers(0, signal.shape[1] - 2_000, 12):
        signal[:, at : at + rng.integers(10, 2_000)] *= 30
    signal[:, :50] = 0.9
    signal[:, -50:] = -0.9
    threshold = 10 ** (-2.0 / 20)
    full = _interpolated_everywhere(signal)
    sparse = _true_peak(signal, _oversampling_filters(), threshold)
    reaching = full > threshold
    assert 0 < reaching.mean() < 0.5  # both kinds of stretch are there
    assert np.array_equal(sparse[reaching], full[reaching])
    assert np.all(sparse[~reaching] <= threshold)
    needed = np.minimum(1.0, threshold / full)
    assert np.array_equal(np.minimum(1.0, threshold / sparse), needed)
