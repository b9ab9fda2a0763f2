"""AAC encoding of the mix, in segments encoded side by side.

FFmpeg's AAC encoder is the fast path's bottleneck and uses one core. So the mix is cut into
segments of ``SEGMENT_SAMPLES`` (a whole number of 1024-sample AAC frames), each encoded by its
own encoder on a worker thread (FFmpeg releases the GIL while it encodes). Every segment's encoder
starts ``PREROLL_SAMPLES`` early and runs ``POSTROLL_SAMPLES`` late, so that at the seams its
psychoacoustic state and window decisions are the ones a single encoder would reach, and only the
packets of the segment's own frames are kept. All encoders share one frame grid, so the kept
packets splice into one continuous AAC stream (the tests compare the coding error at the seams
with a single encoder's). Memory stays at a few segments whatever the length.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from autovid.errors import MediaError
from autovid.render.media import describe_ffmpeg_error

DEFAULT_AUDIO_BITRATE_BPS = 192_000
AAC_OPTIONS: dict[str, str] = {}  # FFmpeg's defaults (the twoloop coder); benchmarks mirror these
FRAME_SAMPLES = 1024
SEGMENT_SAMPLES = 192 * FRAME_SAMPLES  # ~4.1 s at 48 kHz
PREROLL_SAMPLES = 8 * FRAME_SAMPLES  # measured: 4 frames already match a single encoder at the seams
POSTROLL_SAMPLES = 2 * FRAME_SAMPLES  # the encoder looks one frame ahead when choosing windows
MAX_WORKERS = 4
DITHER_LSB = 2.0**-17  # TPDF dither at the 18-bit level: about -110 dBFS RMS, far below hearing
_DITHER_SAMPLES = 1 << 16


def _dither_table() -> np.ndarray:
    """Fixed TPDF noise, cycled by absolute sample index: renders stay deterministic."""
    rng = np.random.default_rng(20_240_601)
    shape = (2, _DITHER_SAMPLES)
    return ((rng.random(shape) - rng.random(shape)) * DITHER_LSB).astype(np.float32)


_DITHER = _dither_table()


def encoder_workers() -> int:
    """Encoders to run at once: the cores this process may use, at most ``MAX_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@dataclass(frozen=True)
class _Segment:
    first: int  # absolute index of samples[:, 0]
    samples: np.ndarray  # (2, n) float32, pre- and post-roll included
    keep_from: int | None  # keep packets with pts >= this (None: from the very first, priming too)
    keep_until: int | None  # keep packets with pts < this (None: to the end, flush included)


def write_aac_track(
    blocks: Iterable[np.ndarray],
    path: Path,
    *,
    sample_rate: int,
    bitrate_bps: int | None = None,
    on_block: Callable[[int], None] | None = None,
    workers: int | None = None,
    segment_samples: int = SEGMENT_SAMPLES,
) -> int:
    """Encode float32 stereo ``blocks`` to AAC in an MP4 (.m4a) file; return the sample count.

    The blocks are produced on the calling thread — where ``checkpoint`` and progress callbacks
    belong — while worker threads encode finished segments. ``on_block`` receives the number of
    samples produced so far.
    """
    if segment_samples % FRAME_SAMPLES:
        raise ValueError(f"segment_samples must be a multiple of {FRAME_SAMPLES}")
    bitrate = bitrate_bps or DEFAULT_AUDIO_BITRATE_BPS
    workers = workers or encoder_workers()
    cutter = _Cutter(segment_samples)
    pending: deque[Future[list[av.Packet]]] = deque()
    try:
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aac") as pool,
            av.open(str(path), "w", format="mp4") as container,
        ):
            stream = container.add_stream("aac", rate=sample_rate, layout="stereo", options=AAC_OPTIONS)
            stream.bit_rate = bitrate

            def submit(segment: _Segment) -> None:
                pending.append(pool.submit(_encode_segment, segment, sample_rate, bitrate))
                while len(pending) > workers:  # bounded: a few segments in memory at most
                    _mux_all(container, stream, pending.popleft().result())

            try:
                for block in blocks:
                    for segment in cutter.add(block):
                        submit(segment)
                    if on_block:
                        on_block(cutter.produced)
                for segment in cutter.finish():
                    submit(segment)
                while pending:
                    _mux_all(container, stream, pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    except av.FFmpegError as exc:
        raise MediaError(f"AAC encoding failed: {describe_ffmpeg_error(exc)}") from None
    return cutter.produced


def _mux_all(
    container: av.container.OutputContainer, stream: av.AudioStream, packets: list[av.Packet]
) -> None:
    for packet in packets:
        packet.stream = stream
        container.mux(packet)


def _encode_segment(segment: _Segment, sample_rate: int, bitrate_bps: int) -> list[av.Packet]:
    context = av.CodecContext.create("aac", "w")
    context.sample_rate = sample_rate
    context.layout = "stereo"
    context.format = "fltp"
    context.bit_rate = bitrate_bps
    context.time_base = Fraction(1, sample_rate)
    context.options = dict(AAC_OPTIONS)
    frame = av.AudioFrame.from_ndarray(_dithered(segment.samples, segment.first), "fltp", "stereo")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, segment.first, context.time_base
    packets = context.encode(frame) + context.encode(None)
    return [
        p
        for p in packets
        if (segment.keep_from is None or p.pts >= segment.keep_from)
        and (segment.keep_until is None or p.pts < segment.keep_until)
    ]


def _dithered(samples: np.ndarray, first: int) -> np.ndarray:
    """``samples`` plus dither. A float mix has bands that are all but empty (above a resampler's
    cut-off, in fades); FFmpeg's twoloop coder searches far longer on those (measured: ~1.5x the
    time) than on material with any noise floor, as every recording or 16-bit file has."""
    index = (first + np.arange(samples.shape[1])) % _DITHER_SAMPLES
    return np.ascontiguousarray(samples + _DITHER[:, index], dtype=np.float32)


class _Cutter:
    """Cuts a stream of blocks into overlapping segments on the AAC frame grid."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.produced = 0
        self._index = 0  # next segment to cut
        self._buffer_start = 0
        self._buffer: list[np.ndarray] = []

    def add(self, block: np.ndarray) -> list[_Segment]:
        self._buffer.append(block)
        self.produced += block.shape[1]
        ready = []
        while self.produced >= (self._index + 1) * self.length + POSTROLL_SAMPLES:
            ready.append(self._cut(last=False))
        return ready

    def finish(self) -> list[_Segment]:
        ready = []
        while self._index * self.length < self.produced:
            ready.append(self._cut(last=(self._index + 1) * self.length >= self.produced))
        return ready

    def _cut(self, *, last: bool) -> _Segment:
        core_start = self._index * self.length
        first = max(0, core_start - PREROLL_SAMPLES)
        stop = min(self.produced, core_start + self.length + POSTROLL_SAMPLES)
        samples = self._samples(first, stop)
        segment = _Segment(
            first=first,
            samples=samples,
            keep_from=core_start if self._index > 0 else None,
            keep_until=None if last else core_start + self.length,
        )
        self._index += 1
        self._drop_before(self._index * self.length - PREROLL_SAMPLES)
        return segment

    def _samples(self, start: int, stop: int) -> np.ndarray:
        joined = np.concatenate(self._buffer, axis=1) if len(self._buffer) > 1 else self._buffer[0]
        self._buffer = [joined]
        return joined[:, start - self._buffer_start : stop - self._buffer_start]

    def _drop_before(self, start: int) -> None:
        if start <= self._buffer_start or not self._buffer:
            return
        joined = np.concatenate(self._buffer, axis=1) if len(self._buffer) > 1 else self._buffer[0]
        self._buffer = [joined[:, start - self._buffer_start :]]
        self._buffer_start = start
