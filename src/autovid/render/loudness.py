"""Loudness to ITU-R BS.1770-4 and EBU Tech 3342, measured on a stream of blocks.

``LoudnessMeter`` takes the mix block by block and keeps one number per 5 ms of audio (its
K-weighted energy; ~6 MB for an hour), so memory stays flat in the video's length. From those it
computes the integrated loudness (400 ms blocks with 75 % overlap, the -70 LUFS absolute and the
-10 LU relative gates), the loudness range (3 s short-term loudness every 100 ms, -20 LU relative
gate, 10th to 95th percentile) and, from the samples, the true peak (4x oversampled). With
``profile`` it also keeps each 5 ms's sample peak: enough to predict what a gain followed by the
limiter does to the loudness, so one measuring pass finds the gain that reaches a target.
``TruePeak`` takes the true peak of separate stretches (the AAC segments as decoded), and
``StretchedLoudness`` the integrated loudness and range of a mix measured in separate stretches
(the AAC segments, each on its encoder's thread; a segment taken from the cache brings its own).

The K-weighting (the two biquads of BS.1770) runs in FFmpeg's ``biquad`` filter at double
precision: a recursive filter cannot be vectorised in numpy, and in C it costs ~1 ms per block.
Everything after the filter is numpy here. FFmpeg's own ``ebur128`` meter, an independent
implementation, is what the tests compare these figures with.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import av
import numpy as np
from av.filter import Graph

from autovid.render.report import HEAVY_LIMITING, LOUDNESS_GAIN_CAPPED, RenderWarning

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
STEP_S = 0.1  # gating blocks start every 100 ms (75 % overlap of 400 ms)
FINE_STEPS = 20  # energies are kept per 5 ms, fine enough to model what the limiter takes away
_BLOCK_STEPS = 4  # 400 ms
_SHORT_TERM_STEPS = 30  # 3 s
# BS.1770-4 K-weighting at 48 kHz: the high-shelf "pre-filter", then the RLB high-pass.
_K_WEIGHTING_48K = (
    (1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585),
    (1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621),
)
_TRUE_PEAK_HALF_TAPS = 12  # 24-tap interpolators per phase (BS.1770-4 Annex 2 uses 12 per phase)
_OVERSAMPLING = 4
# Only the intervals next to samples within 6 dB of the loudest so far are interpolated: an
# inter-sample peak more than 6 dB above both its neighbours needs content near Nyquist at full
# scale, which a mix of speech, music and effects does not have.
_CANDIDATE_FRACTION = 0.5
MAX_GAIN_DB = 20.0  # more would lift a near-silent mix's noise floor into the foreground
HEAVY_LIMITING_DB = 6.0


@dataclass(frozen=True)
class Loudness:
    """The measured figures; None where the audio gives none (silence, or shorter than a block)."""

    integrated_lufs: float | None
    loudness_range: float | None
    true_peak_dbtp: float | None


def _interpolators() -> np.ndarray:
    """Windowed-sinc taps for the points 1/4, 2/4, 3/4 past a sample, (3, 2 * half_taps)."""
    half = _TRUE_PEAK_HALF_TAPS
    m = np.arange(-half + 1, half + 1)
    rows = []
    for phase in range(1, _OVERSAMPLING):
        x = m - phase / _OVERSAMPLING
        taps = np.sinc(x) * np.cos(0.5 * np.pi * x / (half + 0.5)) ** 2
        rows.append(taps / taps.sum())
    return np.array(rows)


class LoudnessMeter:
    """Feed (channels, n) float blocks with ``add``; read the figures with ``result``.

    With ``profile`` it also keeps each 5 ms's sample peak, so that ``gain_for`` can predict
    what a gain followed by the limiter does to the integrated loudness.
    """

    def __init__(
        self, sample_rate: int, *, channels: int = 2, true_peak: bool = True, profile: bool = False
    ) -> None:
        if sample_rate != 48_000:
            raise ValueError("the K-weighting coefficients are those of 48 kHz")
        self.sample_rate = sample_rate
        self._step = round(STEP_S * sample_rate)
        self._fine = self._step // FINE_STEPS
        self._layout = "stereo" if channels == 2 else "mono"
        self._graph = _k_weighting_graph(sample_rate, self._layout)
        self._pts = 0
        self._profile = profile
        self._partial = np.zeros((2, 0))  # energy and peak of the samples past the last full 5 ms
        self._energies: list[np.ndarray] = []  # summed channel energy per 5 ms
        self._peaks: list[np.ndarray] = []  # sample peak per 5 ms (with ``profile``)
        self._true_peak = true_peak
        self._taps = _interpolators()
        self._tail = np.zeros((channels, _TRUE_PEAK_HALF_TAPS - 1), dtype=np.float32)
        self._peak = 0.0  # linear true peak so far
        self.samples = 0  # measured so far

    def metered(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``blocks`` unchanged, each measured as it passes."""
        for block in blocks:
            self.add(block)
            yield block

    def metered_beside(self, blocks: Iterable[np.ndarray], *, depth: int = 2) -> Iterator[np.ndarray]:
        """``blocks`` unchanged, measured on a thread of its own up to ``depth`` blocks behind:
        the K-weighting runs in FFmpeg and numpy, which release the GIL, so it costs the caller
        next to nothing on a second core. A block must not be changed once it is yielded."""
        pending: deque[Future[None]] = deque()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loudness") as pool:
            try:
                for block in blocks:
                    pending.append(pool.submit(self.add, block))
                    while len(pending) > depth:
                        pending.popleft().result()
                    yield block
                while pending:
                    pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def add(self, block: np.ndarray) -> None:
        if block.shape[1] == 0:
            return
        self.samples += block.shape[1]
        self._add_energy(self._k_weighted(block), block)
        if self._true_peak:
            self._add_peak(block)

    def result(self) -> Loudness:
        if self._true_peak:
            self._add_peak(np.zeros((self._tail.shape[0], _TRUE_PEAK_HALF_TAPS), dtype=np.float32))
        energies = np.concatenate(self._energies) if self._energies else np.zeros(0)
        integrated, lra = _gated_figures(energies, self._step)
        peak = None if self._peak <= 0 else 20 * math.log10(self._peak)
        return Loudness(integrated, lra, peak if self._true_peak else None)

    def _k_weighted(self, block: np.ndarray) -> np.ndarray:
        weighted = _filtered(self._graph, block, self._pts, self.sample_rate, self._layout)
        self._pts += block.shape[1]
        return weighted

    def gain_for(self, target_lufs: float, *, ceiling_dbfs: float, max_gain_db: float) -> float:
        """The gain (dB, at most ``max_gain_db``) after which the limiter at ``ceiling_dbfs``
        leaves the measured mix at ``target_lufs``: the plain difference, raised by what the
        limiter is predicted to take away where the gain lifts the peaks over the ceiling."""
        energies = np.concatenate(self._energies) if self._energies else np.zeros(0)
        measured = self._integrated(self._steps(energies))
        if measured is None or not self._profile:
            return 0.0 if measured is None else min(max_gain_db, target_lufs - measured)
        peaks = np.concatenate(self._peaks)
        gain_db = min(max_gain_db, target_lufs - measured)
        for _ in range(8):  # the loudness grows ever slower with the gain: a few steps converge
            predicted = self._integrated(self._steps(energies * _limited(peaks, gain_db, ceiling_dbfs)))
            if predicted is None or abs(target_lufs - predicted) < 0.02:
                break
            gain_db = min(max_gain_db, gain_db + target_lufs - predicted)
        return gain_db

    def _steps(self, energies: np.ndarray) -> np.ndarray:
        return _steps(energies)

    def _integrated(self, steps: np.ndarray) -> float | None:
        return integrated_lufs(_window_means(steps, _BLOCK_STEPS) / self._step)

    def _add_energy(self, weighted: np.ndarray, block: np.ndarray) -> None:
        energy = np.einsum("cn,cn->n", weighted, weighted)  # channel weights are 1 (L, R)
        peak = np.max(np.abs(block), axis=0) if self._profile else np.zeros(energy.size)
        values = np.concatenate([self._partial, np.stack([energy, peak])], axis=1)
        whole = values.shape[1] // self._fine * self._fine
        if whole:
            fine = values[:, :whole].reshape(2, -1, self._fine)
            self._energies.append(fine[0].sum(axis=1))
            if self._profile:
                self._peaks.append(fine[1].max(axis=1))
        self._partial = values[:, whole:]

    def _add_peak(self, block: np.ndarray) -> None:
        """``_tail`` holds the left context (silence before the start) and the last samples,
        whose intervals wait for their right-hand neighbours in the next block."""
        half = _TRUE_PEAK_HALF_TAPS
        signal = np.concatenate([self._tail, block], axis=1)
        self._peak = _interval_peak(signal, self._peak, self._taps)
        self._tail = signal[:, max(half - 1, signal.shape[1] - half) - half + 1 :]


@dataclass(frozen=True)
class StretchEnergy:
    """The K-weighted energy of the mix's samples ``start`` to ``stop`` (absolute), summed per
    5 ms cell of the mix's grid: one value per cell the stretch touches, the first and the last
    partial where the stretch starts or ends between cells (the neighbours bring the rest)."""

    start: int
    stop: int
    cells: np.ndarray  # float64


def stretch_energy(samples: np.ndarray, first: int, start: int, stop: int, sample_rate: int) -> StretchEnergy:
    """The energy of ``start`` to ``stop`` of ``samples`` (whose first sample is the mix's
    ``first``), K-weighted from ``samples[:, 0]``. The filter starts from silence there, not from
    the state the whole mix would leave it in; the difference decays within a few ms (its slowest
    pole, of the 38 Hz high-pass, shrinks 200-fold per 1000 samples), so a stretch begun a few
    thousand samples early measures what the whole mix's meter does."""
    if sample_rate != 48_000:
        raise ValueError("the K-weighting coefficients are those of 48 kHz")
    layout = "stereo" if samples.shape[0] == 2 else "mono"
    fine = cell_samples(sample_rate)
    if stop <= start:
        return StretchEnergy(start, start, np.zeros(0))
    graph = _k_weighting_graph(sample_rate, layout)
    weighted = _filtered(graph, samples[:, : stop - first], first, sample_rate, layout)
    energy = np.einsum("cn,cn->n", weighted, weighted)[start - first :]  # as LoudnessMeter's
    lead = start % fine
    padded = np.zeros(-(-(lead + energy.size) // fine) * fine)
    padded[lead : lead + energy.size] = energy
    return StretchEnergy(start, stop, padded.reshape(-1, fine).sum(axis=1))


class StretchedLoudness:
    """The integrated loudness and loudness range of a mix whose stretches (which tile it) are
    measured separately (``stretch_energy``) and added here in any order, from any thread: the
    same figures as a ``LoudnessMeter`` fed the whole mix."""

    def __init__(self, sample_rate: int) -> None:
        self._step = round(STEP_S * sample_rate)
        self._fine = cell_samples(sample_rate)
        self._lock = threading.Lock()
        self._stretches: list[StretchEnergy] = []

    def include(self, stretch: StretchEnergy) -> None:
        with self._lock:
            self._stretches.append(stretch)

    def result(self) -> Loudness:
        """Added in the mix's order, whatever order the stretches came in: a figure does not
        depend on which thread finished first."""
        with self._lock:
            stretches = sorted(self._stretches, key=lambda s: s.start)
        stop = max((s.stop for s in stretches), default=0)
        cells = np.zeros(-(-stop // self._fine))
        for stretch in stretches:
            at = stretch.start // self._fine
            cells[at : at + stretch.cells.size] += stretch.cells
        integrated, lra = _gated_figures(cells[: stop // self._fine], self._step)  # whole cells only
        return Loudness(integrated, lra, None)


class TruePeak:
    """The largest true peak over separate stretches of audio, added from any thread."""

    def __init__(self) -> None:
        self._taps = _interpolators()
        self._lock = threading.Lock()
        self.linear = 0.0

    def add(self, signal: np.ndarray) -> None:
        """The stretch's samples count, and the points between them that have a full window
        inside it (padding with silence would invent a step, and the interpolation's ringing)."""
        with self._lock:
            running = self.linear
        peak = _interval_peak(signal, running, self._taps)
        with self._lock:
            self.linear = max(self.linear, peak)

    def include(self, linear: float) -> None:
        """A stretch measured elsewhere (a cached segment's stored peak)."""
        with self._lock:
            self.linear = max(self.linear, linear)

    @property
    def dbtp(self) -> float | None:
        return None if self.linear <= 0 else 20 * math.log10(self.linear)


def _interval_peak(signal: np.ndarray, running: float, taps: np.ndarray) -> float:
    """The true peak of ``signal`` (at least ``running``): its samples, and the points between
    neighbours that have a full interpolation window inside ``signal`` — only where the peak
    could exceed the one so far."""
    half = _TRUE_PEAK_HALF_TAPS
    peak = max(running, float(np.abs(signal).max(initial=0.0)))
    first, usable = half - 1, signal.shape[1] - half
    if usable <= first or peak <= 0:
        return peak
    offsets = np.arange(-half + 1, half + 1)
    for channel in signal:
        values = np.abs(channel)
        near = np.maximum(values[first:usable], values[first + 1 : usable + 1])
        at = np.nonzero(near >= peak * _CANDIDATE_FRACTION)[0] + first
        if at.size:
            peak = max(peak, float(np.abs(channel[at[:, None] + offsets] @ taps.T).max()))
    return peak


def _limited(peaks: np.ndarray, gain_db: float, ceiling_dbfs: float) -> np.ndarray:
    """The energy factor per 5 ms of the mix after ``gain_db`` and the limiter: gain squared
    times the limiter's gain squared, which holds from 5 ms before a peak to 25 ms after it."""
    gain = 10 ** (gain_db / 20)
    with np.errstate(divide="ignore"):
        needed = np.minimum(1.0, 10 ** (ceiling_dbfs / 20) / (gain * peaks))
    padded = np.concatenate([np.ones(5), needed, np.ones(1)])
    held = np.min(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    return (gain * held) ** 2


def cell_samples(sample_rate: int) -> int:
    """The samples per 5 ms: the grid (from the mix's first sample) the energies are kept on."""
    return round(STEP_S * sample_rate) // FINE_STEPS


def _steps(energies: np.ndarray) -> np.ndarray:
    """Energy per 100 ms from the energies per 5 ms."""
    whole = energies.size // FINE_STEPS * FINE_STEPS
    return energies[:whole].reshape(-1, FINE_STEPS).sum(axis=1)


def _gated_figures(energies: np.ndarray, step: int) -> tuple[float | None, float | None]:
    """Integrated loudness and loudness range from the energies per 5 ms."""
    steps = _steps(energies)
    integrated = integrated_lufs(_window_means(steps, _BLOCK_STEPS) / step)
    return integrated, loudness_range(_window_means(steps, _SHORT_TERM_STEPS) / step)


def _filtered(graph: Graph, block: np.ndarray, pts: int, sample_rate: int, layout: str) -> np.ndarray:
    """``block`` through the K-weighting ``graph`` (whose state carries on from the last block)."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=layout
    )
    frame.sample_rate, frame.pts = sample_rate, pts
    graph.push(frame)
    out = []
    while True:
        try:
            out.append(graph.pull().to_ndarray())
        except (av.BlockingIOError, av.EOFError):
            break
    if not out:  # the filter has no delay: it returns every block it is given
        raise RuntimeError("the K-weighting filter returned no samples")
    return np.concatenate(out, axis=1) if len(out) > 1 else out[0]


def _k_weighting_graph(sample_rate: int, layout: str) -> Graph:
    graph = Graph()
    node = graph.add_abuffer(
        format="fltp", sample_rate=sample_rate, layout=layout, time_base=f"1/{sample_rate}"
    )
    for b0, b1, b2, a1, a2 in _K_WEIGHTING_48K:
        stage = graph.add("biquad", f"b0={b0}:b1={b1}:b2={b2}:a0=1:a1={a1}:a2={a2}:precision=f64")
        node.link_to(stage)
        node = stage
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    return graph


def _window_means(steps: np.ndarray, width: int) -> np.ndarray:
    """Mean of each run of ``width`` consecutive steps (only complete runs)."""
    if steps.size < width:
        return np.zeros(0)
    sums = np.concatenate([[0.0], np.cumsum(steps)])
    return (sums[width:] - sums[:-width]) / width


def _lufs(power: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def integrated_lufs(block_powers: np.ndarray) -> float | None:
    """BS.1770-4 integrated loudness from the mean-square powers of the 400 ms blocks."""
    loud = block_powers[_lufs(block_powers) > ABSOLUTE_GATE_LUFS]
    if loud.size == 0:
        return None
    gate = float(_lufs(loud.mean())) + RELATIVE_GATE_LU
    gated = loud[_lufs(loud) > gate]
    return float(_lufs(gated.mean()))


def loudness_range(short_term_powers: np.ndarray) -> float | None:
    """EBU Tech 3342 loudness range from the powers of the 3 s short-term windows."""
    loud = short_term_powers[_lufs(short_term_powers) > ABSOLUTE_GATE_LUFS]
    if loud.size == 0:
        return None
    gate = float(_lufs(loud.mean())) + LRA_RELATIVE_GATE_LU
    values = _lufs(loud[_lufs(loud) > gate])
    low, high = percentiles(values, (10.0, 95.0))
    return float(high - low)


def percentiles(values: np.ndarray, percents: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(values, percents)`` (its default, linear interpolation between the closest
    ranks) of a non-empty 1-D array; ``np.percentile`` calls ``np.unique``, which imports
    ``numpy.ma``, ~10 ms of every render."""
    ordered = np.sort(values)
    ranks = np.asarray(percents) / 100.0 * (ordered.size - 1)
    return np.interp(ranks, np.arange(ordered.size), ordered)


def normalising_gain(
    meter: LoudnessMeter, target_lufs: float, *, ceiling_dbfs: float
) -> tuple[float, list[RenderWarning]]:
    """The gain in dB that takes the mix ``meter`` measured (with ``profile``) to
    ``target_lufs`` once limited at ``ceiling_dbfs``, at most +``MAX_GAIN_DB``; a warning when the
    cap (or silence) keeps the target out of reach."""
    measured = meter.result().integrated_lufs
    if measured is None:
        message = (
            f"output.loudness: the mix is silent (below the {ABSOLUTE_GATE_LUFS:g} LUFS gate), "
            f"so it cannot be raised to {target_lufs:g} LUFS; no gain was applied"
        )
        return 0.0, [RenderWarning(LOUDNESS_GAIN_CAPPED, message)]
    gain_db = meter.gain_for(target_lufs, ceiling_dbfs=ceiling_dbfs, max_gain_db=MAX_GAIN_DB)
    needed = target_lufs - measured
    if needed <= MAX_GAIN_DB:
        return gain_db, []
    message = (
        f"output.loudness: the mix measures {measured:.1f} LUFS; reaching {target_lufs:g} LUFS "
        f"needs +{needed:.1f} dB, more than the +{MAX_GAIN_DB:g} dB allowed (it would lift the "
        f"noise floor too), so the output is about {measured + MAX_GAIN_DB:.1f} LUFS"
    )
    return gain_db, [RenderWarning(LOUDNESS_GAIN_CAPPED, message)]


def limiting_warning(
    depth_db: float, *, target_lufs: float | None, ceiling_dbtp: float
) -> RenderWarning | None:
    """A warning when the limiter cut peaks by more than ``HEAVY_LIMITING_DB`` (``depth_db`` > 0)."""
    if depth_db <= HEAVY_LIMITING_DB:
        return None
    cause = f"reaching {target_lufs:g} LUFS" if target_lufs is not None else "the mix"
    return RenderWarning(
        HEAVY_LIMITING,
        f"{cause} needed up to {depth_db:.1f} dB of limiting (more than {HEAVY_LIMITING_DB:g} dB) "
        f"to keep true peaks under {ceiling_dbtp:g} dBTP; loud passages may sound squashed — "
        "a lower target or lower event volumes avoid it",
    )
