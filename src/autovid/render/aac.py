"""AAC encoding of the mix, in segments encoded side by side.

FFmpeg's AAC encoder is the fast path's bottleneck and uses one core. So the mix is cut into
segments (a whole number of 1024-sample AAC frames), each encoded by its
own encoder on a worker thread (FFmpeg releases the GIL while it encodes). Every segment's encoder
starts ``PREROLL_SAMPLES`` early and runs ``POSTROLL_SAMPLES`` late, so that at the seams its
psychoacoustic state and window decisions are the ones a single encoder would reach, and only the
packets of the segment's own frames are kept. All encoders share one frame grid, so the kept
packets splice into one continuous AAC stream (the tests compare the coding error at the seams
with a single encoder's). Memory stays at a few segments whatever the length.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import struct
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from autovid.errors import MediaError
from autovid.render.loudness import StretchedLoudness, StretchEnergy, TruePeak, cell_samples, stretch_energy
from autovid.render.media import describe_ffmpeg_error

DEFAULT_AUDIO_BITRATE_BPS = 192_000
AAC_OPTIONS: dict[str, str] = {}  # FFmpeg's defaults (the twoloop coder); benchmarks mirror these
FRAME_SAMPLES = 1024
# Segments: each costs its encoder's start-up and pre-roll (measured ~12 ms of CPU, ~10 % of a
# 4 s segment's encode), so most are long; but an encoder idles until its first segment is mixed,
# and at the end one encoder idles while another finishes the last segment. So the schedule
# starts and ends with short segments, doubling from the minimum up to the maximum in between.
MIN_SEGMENT_SAMPLES = 48 * FRAME_SAMPLES  # ~1 s at 48 kHz
# ~7.5 s at 48 kHz: ~2.9 MB of float32 stereo per segment held. Measured on 2 cores: a 60 s
# render's CPU and wall time within noise of 15 s segments (12 segments instead of 10), and a
# batch's peak memory 45 MB lower (the segments in flight, and their dithered copies, halve).
MAX_SEGMENT_SAMPLES = 352 * FRAME_SAMPLES
PREROLL_SAMPLES = 8 * FRAME_SAMPLES  # measured: seams within 0.3 dB of one encoder (4 frames: 2.6 dB)
POSTROLL_SAMPLES = 2 * FRAME_SAMPLES  # the encoder looks one frame ahead when choosing windows
# A segment starts on this grid (~0.34 s) just after an event's sound ends. Finer, and rows whose
# greetings differ a little share fewer segments after them; coarser, and each row encodes more.
SOUND_END_FRAMES = 16
MIN_CUT_FRAMES = 8  # no segment shorter than this for a sound's end: each costs its encoder's start-up
MAX_WORKERS = 4
DITHER_LSB = 2.0**-17  # TPDF dither at the 18-bit level: about -110 dBFS RMS, far below hearing
_DITHER_SAMPLES = 1 << 16
_DECODE_MARGIN = 10 ** (-3 / 20)  # frames whose mix peaks this close to the loudest are decoded


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


def segment_schedule(expected_samples: int, sound_ends: Iterable[int] = ()) -> list[int]:
    """Segment lengths (whole AAC frames) for a mix of ``expected_samples``: short at both ends,
    doubling from ``MIN_SEGMENT_SAMPLES`` towards the middle, ``MAX_SEGMENT_SAMPLES`` there; and
    a segment starts again just after each of ``sound_ends`` (where an event's sound and its
    ducking end, ``Plan.sound_ends``).

    Why the extra starts: in a batch, rows differ in their own events (a greeting of another
    length) and the segments those touch are encoded again. Without a start after the event, the
    segment that holds its end runs on to the next scheduled start, seconds later; with one, what
    follows the event is a segment of its own whose samples are the same in every row whose event
    ends at the same place on the ``SOUND_END_FRAMES`` grid. The schedule depends on the plan
    alone, so a row rendered with a warm cache still cuts, and codes, exactly as it does alone."""
    base = _doubling_schedule(expected_samples)
    ends = sorted(sound_ends)
    if not base or not ends:
        return base
    frames = -(-expected_samples // FRAME_SAMPLES)
    starts = set(itertools.accumulate(length // FRAME_SAMPLES for length in base[:-1]))
    grid = SOUND_END_FRAMES * FRAME_SAMPLES
    for end in ends:  # the new segment's pre-roll too comes after the sound
        start = -(-(end + PREROLL_SAMPLES) // grid) * SOUND_END_FRAMES
        near = any(abs(start - other) < MIN_CUT_FRAMES for other in starts)
        if MIN_CUT_FRAMES <= start <= frames - MIN_CUT_FRAMES and not near:
            starts.add(start)
    bounds = [0, *sorted(starts), frames]  # the doubling schedule covers whole frames exactly
    return [(b - a) * FRAME_SAMPLES for a, b in itertools.pairwise(bounds)]


def _doubling_schedule(expected_samples: int) -> list[int]:
    remaining = -(-expected_samples // FRAME_SAMPLES)  # in frames from here on
    smallest, largest = MIN_SEGMENT_SAMPLES // FRAME_SAMPLES, MAX_SEGMENT_SAMPLES // FRAME_SAMPLES
    front: list[int] = []
    back: list[int] = []
    step = smallest
    while remaining > 0:
        for side in (front, back):
            take = min(step, remaining)
            if take < smallest and front:  # no tiny segment: the remainder joins one in the middle
                front[-1] += take
            elif take:
                side.append(take)
            remaining -= take
        step = min(2 * step, largest)
    return [frames * FRAME_SAMPLES for frames in front + back[::-1]]


@dataclass(frozen=True)
class _Segment:
    first: int  # absolute index of samples[:, 0]
    samples: np.ndarray  # (2, n) float32, pre- and post-roll included
    keep_from: int | None  # keep packets with pts >= this (None: from the very first, priming too)
    keep_until: int | None  # keep packets with pts < this (None: to the end, flush included)


class SegmentStore(Protocol):
    """Encoded segments kept across renders (``autovid.adapters.local.segment_cache``): bytes by
    key. ``get`` returns None for a key it does not hold; either call may drop anything. While a
    ``claim`` on a key is held, other renders sharing the store that claim it wait: the first
    rows of a batch, rendered at once, encode what they share once."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...

    def claim(self, key: str) -> AbstractContextManager[None]: ...


class AacSink(Protocol):
    """Where the encoded AAC packets go, in order: an .m4a of their own, or the final MP4."""

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None: ...

    def write_aac(self, packets: list[av.Packet]) -> None: ...


def add_aac_stream(
    container: av.container.OutputContainer, sample_rate: int, bitrate_bps: int
) -> av.AudioStream:
    """The output stream the segments' packets are muxed into (stereo AAC at ``bitrate_bps``)."""
    stream = container.add_stream("aac", rate=sample_rate, layout="stereo", options=AAC_OPTIONS)
    stream.bit_rate = bitrate_bps
    return stream


class M4aFile:
    """The AAC track alone, in an MP4 (.m4a) file."""

    def __init__(self, path: Path) -> None:
        self._container = av.open(str(path), "w", format="mp4")
        self._stream: av.AudioStream | None = None

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None:
        self._stream = add_aac_stream(self._container, sample_rate, bitrate_bps)

    def write_aac(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            packet.stream = self._stream
            self._container.mux(packet)

    def close(self) -> None:
        self._container.close()


def write_aac_track(
    blocks: Iterable[np.ndarray],
    output: Path | AacSink,
    *,
    sample_rate: int,
    bitrate_bps: int | None = None,
    on_block: Callable[[int], None] | None = None,
    workers: int | None = None,
    expected_samples: int | None = None,
    segment_samples: int | None = None,
    true_peak: TruePeak | None = None,
    loudness: StretchedLoudness | None = None,
    cache: SegmentStore | None = None,
    sound_ends: Iterable[int] = (),
) -> int:
    """Encode float32 stereo ``blocks`` to AAC into ``output`` (an .m4a file at a path, or a
    sink such as the MP4 being written); return the sample count.

    The blocks are produced on the calling thread — where ``checkpoint`` and progress callbacks
    belong — while worker threads encode finished segments. ``on_block`` receives the number of
    samples produced so far. ``expected_samples`` (the mix's length, when known) sizes the
    segments, starting anew after each of ``sound_ends``; ``segment_samples`` sets their length.
    ``true_peak``, when given, takes the true peak of the AAC as decoded (each segment's packets
    on its worker): the codec's overshoot is in it. ``loudness``, when given, takes the mix's loudness,
    each segment's stretch measured on its worker. A segment whose encoder input is in ``cache``
    (encoded by an earlier render) is taken from it, its true peak and loudness with it, not
    encoded or measured again."""
    bitrate = bitrate_bps or DEFAULT_AUDIO_BITRATE_BPS
    workers = workers or encoder_workers()
    cutter = _cutter(expected_samples, segment_samples, sound_ends)
    pending: deque[Future[list[av.Packet]]] = deque()
    try:
        with ExitStack() as stack:
            sink = _opened_sink(output, stack)
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aac"))
            sink.add_aac_stream(sample_rate, bitrate)

            def submit(segment: _Segment) -> None:
                measures = _Measures(true_peak, loudness)
                pending.append(pool.submit(_encode_segment, segment, sample_rate, bitrate, measures, cache))
                while len(pending) > workers:  # bounded: a few segments in memory at most
                    sink.write_aac(pending.popleft().result())

            try:
                for block in blocks:
                    for segment in cutter.add(block):
                        submit(segment)
                    if on_block:
                        on_block(cutter.produced)
                for segment in cutter.finish():
                    submit(segment)
                while pending:
                    sink.write_aac(pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    except av.FFmpegError as exc:
        raise MediaError(f"AAC encoding failed: {describe_ffmpeg_error(exc)}") from None
    return cutter.produced


def _opened_sink(output: Path | AacSink, stack: ExitStack) -> AacSink:
    if not isinstance(output, Path):
        return output
    file = M4aFile(output)
    stack.callback(file.close)
    return file


def _cutter(expected_samples: int | None, segment_samples: int | None, sound_ends: Iterable[int]) -> _Cutter:
    if segment_samples is None:
        return _Cutter(segment_schedule(expected_samples or 0, sound_ends), MAX_SEGMENT_SAMPLES)
    if segment_samples % FRAME_SAMPLES:
        raise ValueError(f"segment_samples must be a multiple of {FRAME_SAMPLES}")
    return _Cutter([], segment_samples)


@dataclass(frozen=True)
class _Measures:
    """What the segments' workers measure for the whole render (None: not asked for)."""

    true_peak: TruePeak | None = None
    loudness: StretchedLoudness | None = None


def _encode_segment(
    segment: _Segment,
    sample_rate: int,
    bitrate_bps: int,
    measures: _Measures | None = None,
    cache: SegmentStore | None = None,
) -> list[av.Packet]:
    """The segment's kept packets, from ``cache`` when it holds them; its true peak and its
    loudness added to ``measures``. Both are the segment's own (its frames near its own loudest
    decoded; the mix's energy over the stretch its packets play), so a cached segment brings the
    figures a fresh encode would measure."""
    measures = measures or _Measures()
    samples = _dithered(segment.samples, segment.first)
    if cache is None:
        return _coded(segment, samples, sample_rate, bitrate_bps, measures)
    key = segment_key(samples, segment, sample_rate, bitrate_bps)
    cached = unpack_packets(cache.get(key), segment.first, sample_rate)
    if cached is not None:
        return _coded(segment, samples, sample_rate, bitrate_bps, measures, (cache, key, cached))
    with cache.claim(key):  # a render sharing the cache may be encoding this very segment: await it
        cached = unpack_packets(cache.get(key), segment.first, sample_rate)
        return _coded(segment, samples, sample_rate, bitrate_bps, measures, (cache, key, cached))


def _coded(
    segment: _Segment,
    samples: np.ndarray,
    sample_rate: int,
    bitrate_bps: int,
    measures: _Measures,
    lookup: tuple[SegmentStore, str, CachedSegment | None] | None = None,
) -> list[av.Packet]:
    """The segment's packets, taken from ``lookup``'s entry when it found one, else encoded (and
    then stored under its key); its measures added."""
    cache, key, cached = lookup or (None, None, None)
    energy = None
    if cached is not None:
        packets, peak = cached.packets, cached.true_peak
        if cached.grid_phase == _grid_phase(segment, sample_rate):
            energy = StretchEnergy(*_kept_stretch(segment), cached.cells)
    else:
        encoder, packets, kept = _encoded(samples, segment, sample_rate, bitrate_bps)
        peak = _own_true_peak(encoder, segment, packets, kept) if measures.true_peak or key else 0.0
        packets = kept
    if energy is None and (measures.loudness or (key and cached is None)):
        energy = stretch_energy(segment.samples, segment.first, *_kept_stretch(segment), sample_rate)
    if cache is not None and key is not None and cached is None and energy is not None:
        cache.put(
            key, pack_packets(packets, segment.first, peak, _grid_phase(segment, sample_rate), energy.cells)
        )
    if measures.true_peak is not None:
        measures.true_peak.include(peak)
    if measures.loudness is not None and energy is not None:
        measures.loudness.include(energy)
    return packets


def _kept_stretch(segment: _Segment) -> tuple[int, int]:
    """The mix's samples the segment's kept packets play: its own, without pre- and post-roll."""
    start = segment.first if segment.keep_from is None else segment.keep_from
    stop = segment.first + segment.samples.shape[1] if segment.keep_until is None else segment.keep_until
    return start, stop


def _encoded(
    samples: np.ndarray, segment: _Segment, sample_rate: int, bitrate_bps: int
) -> tuple[av.CodecContext, list[av.Packet], list[av.Packet]]:
    """Encode the segment's samples: the encoder, all its packets, and the packets kept."""
    context = av.CodecContext.create("aac", "w")
    context.sample_rate = sample_rate
    context.layout = "stereo"
    context.format = "fltp"
    context.bit_rate = bitrate_bps
    context.time_base = Fraction(1, sample_rate)
    context.options = dict(AAC_OPTIONS)
    frame = av.AudioFrame.from_ndarray(samples, "fltp", "stereo")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, segment.first, context.time_base
    packets = context.encode(frame) + context.encode(None)
    kept = [
        p
        for p in packets
        if (segment.keep_from is None or p.pts >= segment.keep_from)
        and (segment.keep_until is None or p.pts < segment.keep_until)
    ]
    return context, packets, kept


def _own_true_peak(
    encoder: av.CodecContext, segment: _Segment, packets: list[av.Packet], kept: list[av.Packet]
) -> float:
    peak = TruePeak()
    for run in _decoded_loud(encoder, segment, packets, kept, 0.0):
        peak.add(run)
    return peak.linear


def _decoded_loud(
    encoder: av.CodecContext,
    segment: _Segment,
    packets: list[av.Packet],
    kept: list[av.Packet],
    loudest: float,
) -> list[np.ndarray]:
    """The kept packets' audio as a player renders it, where it can hold the true peak: frames
    whose mix comes within ``_DECODE_MARGIN`` of the loudest so far, and their neighbours (the
    codec's overshoot is a fraction of a dB). Each run of frames is decoded from the packet before
    it (each AAC frame overlaps the previous one). The priming frame and whatever follows the mix's
    last sample (the encoder's padding, trimmed by the container) are left out."""
    end = segment.first + segment.samples.shape[1]
    keep = {p.pts for p in kept}
    playing = [i for i, p in enumerate(packets) if p.pts in keep and 0 <= p.pts < end]
    if not playing:
        return []
    frames = [(packets[i].pts - segment.first) // FRAME_SAMPLES for i in playing]
    peaks = _frame_peaks(segment.samples)[frames]
    loud = peaks >= max(loudest, float(peaks.max())) * _DECODE_MARGIN
    loud[:-1] |= loud[1:]
    loud[1:] |= loud[:-1].copy()
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = encoder.extradata
    decoder.sample_rate, decoder.layout = encoder.sample_rate, "stereo"
    runs: list[np.ndarray] = []
    current: list[np.ndarray] = []
    previous = -2
    for index, selected in zip(playing, loud, strict=True):
        if not selected:
            continue
        if index != previous + 1:  # a new run: flush the last, prime the decoder with the packet before
            runs += [np.concatenate(current, axis=1)] if current else []
            current = []
            decoder.flush_buffers()
            if index > 0:
                decoder.decode(packets[index - 1])
        start = packets[index].pts
        current += [frame.to_ndarray()[:, : end - start] for frame in decoder.decode(packets[index])]
        previous = index
    return [*runs, np.concatenate(current, axis=1)] if current else runs


def _frame_peaks(samples: np.ndarray) -> np.ndarray:
    """The sample peak of each AAC frame of ``samples`` (both channels; packets sit on the frame
    grid, whose first frame starts at ``samples[:, 0]``)."""
    frames = -(-samples.shape[1] // FRAME_SAMPLES)
    magnitude = np.zeros(frames * FRAME_SAMPLES, dtype=samples.dtype)
    np.max(np.abs(samples), axis=0, out=magnitude[: samples.shape[1]])
    return magnitude.reshape(frames, FRAME_SAMPLES).max(axis=1)


# --- reuse across renders ------------------------------------------------------------------------
# A segment's packets are a function of exactly what its encoder is given: the dithered samples
# (pre- and post-roll included; they carry every clip, gain, ramp, fade, source and the dither
# phase), the encoder and its settings, and which packets are kept. The key hashes all of that,
# so a hit is the same bytes a fresh encode would produce, and any change that reaches the
# samples (a gain, a ramp, a source file's bytes, a limiter decision) is a miss. Keying on the
# samples rather than on a description of the plan cannot go stale when the mixer learns
# something new. Positions inside the key are relative to the segment's first sample, so the same
# window content hits wherever the schedule puts it.
#
# The segment's loudness (the mix's K-weighted energy per 5 ms over its kept stretch) is of the
# samples before dither, at their place on the 5 ms grid; the key fixes the dithered samples. So
# the stored energies hold for a hit whose first sample has the same phase in both the grid and
# the dither table (``_grid_phase``); a hit elsewhere takes the packets and measures the stretch.
_KEY_VERSION = 3
_PACKED_MAGIC = b"AVSEG3\n"
# packets, the segment's true peak (linear), the grid phase of its energies and their count
_PACKED_COUNTS = struct.Struct("<IdII")
_PACKET_HEADER = struct.Struct("<qqqIB")  # pts, dts (relative to the first sample), duration, size, key


def segment_key(samples: np.ndarray, segment: _Segment, sample_rate: int, bitrate_bps: int) -> str:
    """The cache key of a segment's encode (``samples``: the encoder's input, dither included)."""
    relative = [None if at is None else at - segment.first for at in (segment.keep_from, segment.keep_until)]
    context = (
        f"aac{_KEY_VERSION}|{av.__version__}|{av.library_versions['libavcodec']}|{sample_rate}|"
        f"{bitrate_bps}|{sorted(AAC_OPTIONS.items())}|{samples.shape}|{samples.dtype}|{relative}"
    )
    # SHA-256, not BLAKE2: every segment of every render is hashed (~23 MB for a minute), and
    # OpenSSL's SHA-256 runs on the CPU's SHA instructions, measured 2.5x BLAKE2b's speed here.
    digest = hashlib.sha256(context.encode())
    digest.update(np.ascontiguousarray(samples).data)
    return digest.hexdigest()[:40]


@dataclass(frozen=True)
class CachedSegment:
    packets: list[av.Packet]
    true_peak: float  # linear
    grid_phase: int  # where the segment's first sample falls on the grid of ``cells``
    cells: np.ndarray  # the kept stretch's energy per 5 ms (``StretchEnergy.cells``)


def _grid_phase(segment: _Segment, sample_rate: int) -> int:
    return segment.first % math.lcm(_DITHER_SAMPLES, cell_samples(sample_rate))


def pack_packets(
    packets: list[av.Packet], first: int, true_peak: float, grid_phase: int, cells: np.ndarray
) -> bytes:
    energies = np.ascontiguousarray(cells, dtype="<f8").tobytes()
    parts = [_PACKED_MAGIC, _PACKED_COUNTS.pack(len(packets), true_peak, grid_phase, cells.size), energies]
    for packet in packets:
        data = bytes(packet)
        parts.append(
            _PACKET_HEADER.pack(
                packet.pts - first, packet.dts - first, packet.duration or 0, len(data), packet.is_keyframe
            )
        )
        parts.append(data)
    return b"".join(parts)


def unpack_packets(data: bytes | None, first: int, sample_rate: int) -> CachedSegment | None:
    """What ``pack_packets`` packed, the packets at their place again; None when ``data`` is not
    a whole entry (then the segment is encoded as if it had never been cached)."""
    if data is None or not data.startswith(_PACKED_MAGIC):
        return None
    view, offset = memoryview(data), len(_PACKED_MAGIC) + _PACKED_COUNTS.size
    if len(data) < offset:
        return None
    count, true_peak, grid_phase, cell_count = _PACKED_COUNTS.unpack_from(data, len(_PACKED_MAGIC))
    if offset + 8 * cell_count > len(data):
        return None
    cells = np.frombuffer(data, dtype="<f8", count=cell_count, offset=offset).astype(np.float64)
    offset += 8 * cell_count
    time_base = Fraction(1, sample_rate)
    packets = []
    for _ in range(count):
        if offset + _PACKET_HEADER.size > len(data):
            return None
        pts, dts, duration, size, key = _PACKET_HEADER.unpack_from(data, offset)
        offset += _PACKET_HEADER.size
        if offset + size > len(data):
            return None
        packet = av.Packet(bytes(view[offset : offset + size]))
        offset += size
        packet.pts, packet.dts, packet.duration, packet.time_base = (
            pts + first,
            dts + first,
            duration,
            time_base,
        )
        packet.is_keyframe = bool(key)
        packets.append(packet)
    return CachedSegment(packets, true_peak, grid_phase, cells) if offset == len(data) else None


def _dithered(samples: np.ndarray, first: int) -> np.ndarray:
    """``samples`` plus dither. A float mix has bands that are all but empty (above a resampler's
    cut-off, in fades); FFmpeg's twoloop coder searches far longer on those (measured: ~1.5x the
    time) than on material with any noise floor, as every recording or 16-bit file has."""
    out = np.array(samples, dtype=np.float32, order="C")  # a copy: the mix is not changed
    done, total = 0, out.shape[1]
    while done < total:  # the table is cycled in slices (fancy indexing cost ~10 % of the encode)
        offset = (first + done) % _DITHER_SAMPLES
        step = min(total - done, _DITHER_SAMPLES - offset)
        out[:, done : done + step] += _DITHER[:, offset : offset + step]
        done += step
    return out


class _Cutter:
    """Cuts a stream of blocks into overlapping segments on the AAC frame grid: lengths from
    ``schedule``, then ``default`` for whatever follows it."""

    def __init__(self, schedule: list[int], default: int) -> None:
        self._schedule = schedule
        self._default = default
        self.produced = 0
        self._index = 0  # next segment to cut
        self._start = 0  # where it starts
        self._buffer_start = 0
        self._buffer: list[np.ndarray] = []

    def add(self, block: np.ndarray) -> list[_Segment]:
        self._buffer.append(block)
        self.produced += block.shape[1]
        ready = []
        while self.produced >= self._start + self._length() + POSTROLL_SAMPLES:
            ready.append(self._cut(last=False))
        return ready

    def finish(self) -> list[_Segment]:
        ready = []
        while self._start < self.produced:
            ready.append(self._cut(last=self._start + self._length() >= self.produced))
        return ready

    def _length(self) -> int:
        return self._schedule[self._index] if self._index < len(self._schedule) else self._default

    def _cut(self, *, last: bool) -> _Segment:
        core_start, length = self._start, self._length()
        first = max(0, core_start - PREROLL_SAMPLES)
        stop = min(self.produced, core_start + length + POSTROLL_SAMPLES)
        samples = self._samples(first, stop)
        segment = _Segment(
            first=first,
            samples=samples,
            keep_from=core_start if self._index > 0 else None,
            keep_until=None if last else core_start + length,
        )
        self._index += 1
        self._start = core_start + length
        self._drop_before(self._start - PREROLL_SAMPLES)
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
