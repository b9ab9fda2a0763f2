"""The streaming mixer: a ``Plan`` in, 48 kHz stereo float32 blocks out.

Every source is read through a ``SampleSource`` (a streaming decoder in production) opened when
its clip starts and closed when it ends, so memory depends on the block size, never on the
video's length. Per block: music clips (with their crossfade envelopes) are summed and multiplied
by the ducking gain, events and the video's own audio are added, and a look-ahead limiter keeps
true peaks under the ceiling. All of it is vectorised numpy; nothing runs per sample in Python.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from typing import Protocol

import numpy as np

from autovid.render.plan import Clip, Plan, Source

BLOCK_SAMPLES = 32_768  # ~0.68 s at 48 kHz: big enough that numpy's per-call overhead vanishes
DEFAULT_TRUE_PEAK_DBTP = -1.0  # what the output's true peak must stay under without a loudness spec
AAC_HEADROOM_DB = 1.0  # the limiter aims this far under it: room for the AAC codec's overshoot
CEILING_DBFS = DEFAULT_TRUE_PEAK_DBTP - AAC_HEADROOM_DB
_RUN_CHUNK = 128  # the limiter interpolates whole chunks of this many samples, those near the ceiling
_RUN_GAP = 4 * _RUN_CHUNK  # loud stretches closer than this are interpolated as one


class SampleSource(Protocol):
    """A streaming reader of one source at the plan's sample rate."""

    def read(self, count: int) -> np.ndarray:
        """The next ``count`` samples, shape (1 or 2, count), silence past the end."""
        ...

    def skip(self, count: int) -> None: ...

    def close(self) -> None: ...


OpenSource = Callable[[Source], SampleSource]


class Limiter:
    """A look-ahead peak limiter with a gain that never exceeds what each sample needs.

    For every sample the required gain is g = min(1, ceiling / peak), where the peak is a 4x
    oversampled (true-peak) estimate. The applied gain is a running minimum of g over
    [n - W - hold, n + W] followed by a moving average over [n - W, n + W]: every sample in the
    averaging window is a minimum that includes g[n], so the smooth gain is <= g[n] everywhere
    (the ceiling holds) while it ramps over 2W samples instead of jumping. It runs on a stream
    with a delay of 2W + taps samples; context carried between calls makes block edges seamless.
    The oversampled estimate is computed only in the stretches where it can reach the ceiling
    (elsewhere g is 1 whatever it is), and a block that nowhere reaches it passes unchanged.
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        ceiling_dbfs: float = CEILING_DBFS,
        lookahead_s: float = 0.005,
        hold_s: float = 0.02,
    ) -> None:
        self.threshold = float(10 ** (ceiling_dbfs / 20))
        self._w = max(1, round(lookahead_s * sample_rate))
        self._hold = max(0, round(hold_s * sample_rate))
        self._taps = _oversampling_filters()
        margin = self._taps.shape[1]
        self._future = 2 * self._w + margin  # samples held back until their look-ahead arrives
        self._past = 2 * self._w + self._hold + margin
        self._history = np.zeros((2, self._past), dtype=np.float32)  # silence before the start
        self._pending = np.zeros((2, 0), dtype=np.float32)
        self.max_reduction_db = 0.0  # deepest gain reduction applied so far (for diagnostics)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``block`` (2, n); return the limited samples that are ready (2, m)."""
        self._pending = np.concatenate([self._pending, block], axis=1) if self._pending.size else block
        ready = self._pending.shape[1] - self._future
        if ready <= 0:
            return np.zeros((2, 0), dtype=np.float32)
        return self._emit(ready)

    def flush(self) -> np.ndarray:
        """The remaining samples (the stream is followed by silence)."""
        remaining = self._pending.shape[1]
        if remaining == 0:
            return np.zeros((2, 0), dtype=np.float32)
        self._pending = np.concatenate([self._pending, np.zeros((2, self._future), np.float32)], axis=1)
        return self._emit(remaining)

    def _emit(self, ready: int) -> np.ndarray:
        context = np.concatenate([self._history, self._pending], axis=1)
        out = self._pending[:, :ready]
        # Cheap exit: far enough under the ceiling that even inter-sample peaks cannot reach it.
        if float(np.max(np.abs(context))) * 1.41 >= self.threshold:
            gain = self._smooth_gain(context)
            if gain is not None:
                out = (out * gain[self._past : self._past + ready]).astype(np.float32)
        self._history = context[:, ready : ready + self._past]
        self._pending = self._pending[:, ready:]
        return out

    def _smooth_gain(self, signal: np.ndarray) -> np.ndarray | None:
        """The gain per sample of ``signal``; None where it would be 1 throughout (no peak
        reaches the ceiling: the samples pass unchanged, exactly as a gain of 1 leaves them)."""
        peak = _true_peak(signal, self._taps, self.threshold)
        if float(peak.max()) <= self.threshold:
            return None
        with np.errstate(divide="ignore"):
            needed = np.minimum(1.0, self.threshold / peak)
        w = self._w
        held = _window_min(needed, before=w + self._hold, after=w)
        smooth = _moving_average(held, w)
        self.max_reduction_db = min(self.max_reduction_db, 20 * float(np.log10(max(smooth.min(), 1e-9))))
        return smooth.astype(np.float32)


def _oversampling_filters(factor: int = 4, half_taps: int = 8) -> np.ndarray:
    """Windowed-sinc interpolators for the fractional positions 1/4, 2/4, 3/4 (one row each)."""
    m = np.arange(-half_taps + 1, half_taps + 1)
    rows = []
    for phase in range(1, factor):
        x = m - phase / factor
        window = np.cos(0.5 * np.pi * x / (half_taps + 0.5)) ** 2
        taps = np.sinc(x) * window
        rows.append(taps / taps.sum())
    return np.array(rows)


def _true_peak(signal: np.ndarray, taps: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Per sample: the largest |value| over both channels at the sample and the three
    interpolated points on each side of it — computed only where it can reach ``threshold``.
    Elsewhere the value is the sample's own (also under ``threshold``, so the limiter's gain
    there is 1 either way)."""
    peak = np.max(np.abs(signal), axis=0).astype(np.float64)
    for lo, hi in _loud_runs(peak, np.abs(taps).sum(axis=1).max(), threshold, taps.shape[1]):
        _interpolated_peak(signal, taps, peak, lo, hi)
    return peak


def _loud_runs(peak: np.ndarray, gain_bound: float, threshold: float, taps: int) -> list[tuple[int, int]]:
    """Stretches [lo, hi) outside of which no interpolated point can reach ``threshold``: an
    interpolated point is at most ``gain_bound`` (the taps' absolute sum) times the largest
    sample in its window, and a window spans less than one ``_RUN_CHUNK`` on either side."""
    n = peak.size
    chunks = -(-n // _RUN_CHUNK)
    if chunks <= 3:
        return [(0, n)]
    padded = np.zeros(chunks * _RUN_CHUNK)
    padded[:n] = peak
    loud = padded.reshape(chunks, _RUN_CHUNK).max(axis=1) * (gain_bound * 1.001) >= threshold
    loud[1:] |= loud[:-1].copy()  # a window reaches one chunk to each side
    loud[:-1] |= loud[1:].copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[False], loud, [False]]).astype(np.int8)))
    runs: list[tuple[int, int]] = []
    for start, stop in zip(edges[::2] * _RUN_CHUNK, edges[1::2] * _RUN_CHUNK, strict=True):
        if runs and start - runs[-1][1] < _RUN_GAP:  # a short gap costs less than another call
            runs[-1] = (runs[-1][0], min(n, stop))
        else:
            runs.append((start, min(n, stop)))
    return runs


def _interpolated_peak(signal: np.ndarray, taps: np.ndarray, peak: np.ndarray, lo: int, hi: int) -> None:
    """Raise ``peak[lo:hi]`` by the interpolated points next to each sample. The convolution runs
    over a slice with a margin of ``2 * half`` samples (or up to the signal's own edge), so that
    every value used is the one a convolution of the whole signal gives, bit for bit."""
    half = taps.shape[1] // 2
    start, stop = max(0, lo - 1 - 2 * half), min(peak.size, hi + 2 * half)
    first = max(lo, 1) - 1 - start  # between[start + first] is the point just before lo
    for row in taps:
        for channel in signal[:, start:stop]:
            # between[i] estimates the signal a fraction past sample start + i
            between = np.abs(np.convolve(channel, row[::-1], mode="full")[half : half + channel.size])
            np.maximum(peak[lo:hi], between[lo - start : hi - start], out=peak[lo:hi])
            below = peak[max(lo, 1) : hi]
            np.maximum(below, between[first : first + below.size], out=below)


def _window_min(values: np.ndarray, *, before: int, after: int) -> np.ndarray:
    """out[n] = min(values[n - before : n + after + 1]), treating values outside as 1."""
    width = before + after + 1
    padded = np.concatenate([np.ones(before), values, np.ones(after)])
    return _sliding_min(padded, width)


def _sliding_min(values: np.ndarray, width: int) -> np.ndarray:
    """min over each window of ``width`` (van Herk / Gil-Werman: two block-wise scans)."""
    n = values.size
    blocks = -(-n // width)
    padded = np.concatenate([values, np.ones(blocks * width - n)]).reshape(blocks, width)
    prefix = np.minimum.accumulate(padded, axis=1).ravel()
    suffix = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[: n - width + 1], prefix[width - 1 : n])


def _moving_average(values: np.ndarray, half_width: int) -> np.ndarray:
    """out[n] = mean(values[n - half_width : n + half_width + 1]), edges padded with 1."""
    padded = np.concatenate([np.ones(half_width + 1), values, np.ones(half_width)])
    sums = np.cumsum(padded)
    width = 2 * half_width + 1
    return (sums[width:] - sums[:-width]) / width


class Mixer:
    """Renders a plan block by block; ``blocks()`` yields (2, n) float32 arrays whose lengths add
    up to ``plan.total_samples``. ``gain`` scales the whole mix before the limiter (loudness
    normalisation); ``mixed()`` is the mix before the limiter, for measuring it."""

    def __init__(
        self,
        plan: Plan,
        open_source: OpenSource,
        *,
        block_samples: int = BLOCK_SAMPLES,
        ceiling_dbfs: float = CEILING_DBFS,
        gain: float = 1.0,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self.plan = plan
        self._open_source = open_source
        self._block = block_samples
        self._gain = gain
        self._checkpoint = checkpoint or (lambda: None)
        self.limiter = Limiter(sample_rate=plan.sample_rate, ceiling_dbfs=ceiling_dbfs)
        self.mixed_samples = 0  # progress: samples mixed so far (before the limiter's delay)

    def blocks(self) -> Iterator[np.ndarray]:
        with closing(self.mixed()) as mixed:  # a consumer that stops early closes the sources
            for block in mixed:
                out = self.limiter.process(block)
                if out.shape[1]:
                    yield out
        tail = self.limiter.flush()
        if tail.shape[1]:
            yield tail

    def mixed(self) -> Generator[np.ndarray, None, None]:
        waiting = deque(self.plan.clips)  # ordered by start
        playing: dict[int, tuple[Clip, SampleSource]] = {}
        try:
            for start in range(0, self.plan.total_samples, self._block):
                self._checkpoint()
                stop = min(start + self._block, self.plan.total_samples)
                while waiting and waiting[0].start < stop:
                    clip = waiting.popleft()
                    playing[id(clip)] = (clip, self._open(clip))
                block = self._mix(start, stop, playing)
                if self._gain != 1.0:
                    block *= np.float32(self._gain)
                self.mixed_samples = stop
                yield block
        finally:
            for _, source in playing.values():
                source.close()

    def _open(self, clip: Clip) -> SampleSource:
        source = self._open_source(clip.source)
        if clip.offset:
            source.skip(clip.offset)
        return source

    def _mix(self, start: int, stop: int, playing: dict[int, tuple[Clip, SampleSource]]) -> np.ndarray:
        count = stop - start
        music = np.zeros((2, count), dtype=np.float32)
        rest = np.zeros((2, count), dtype=np.float32)
        for key, (clip, source) in list(playing.items()):
            lo, hi = max(start, clip.start), min(stop, clip.end)
            if lo < hi:
                samples = source.read(hi - lo)
                target = music if clip.bus == "music" else rest
                target[:, lo - start : hi - start] += samples * clip.envelope(lo - clip.start, hi - lo)
            if clip.end <= stop:
                source.close()
                del playing[key]
        duck = self.plan.duck_gain(start, stop)
        if duck is not None:
            music *= duck
        music += rest
        return music
