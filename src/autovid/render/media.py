"""Reading media with PyAV: probing files, scanning video timestamps, streaming audio decode.

Everything here reads files; nothing decodes a whole file into memory. FFmpeg errors become
``MediaError`` with a reason a user can act on; the pipeline turns that into an ``AssetError``
naming the asset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import wave
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import av
import numpy as np

from autovid.errors import MediaError
from autovid.render.limits import RenderLimits

SAMPLE_RATE = 48_000
# Demuxers we accept (FFmpeg also reads text, images, playlists… as "media": refuse those).
SUPPORTED_FORMATS = frozenset(
    {"mov", "mp4", "m4a", "matroska", "webm", "avi", "mp3", "wav", "flac", "aac", "ogg"}
)
SUPPORTED_TEXT = "MP4, MOV, MKV or AVI video; MP3, WAV, M4A or FLAC audio"
_DECODE_CHECK_PACKETS = 500  # packets to demux while looking for a first decodable frame
# A WAV that autovid wrote (speech) is plain PCM, as its header says. Opening a 16-bit WAV,
# FFmpeg probes its data for another codec carried as PCM (MP3, DTS), and on plain PCM it keeps
# probing to the end of the file: measured ~10 ms a speech file, a few percent of a batch row.
# For our own files it stops after the first packet.
_OWN_WAV_OPTIONS = {"probesize": "32"}
_HEADER_COUNT_MIN_FRAMES = 1024  # shorter, and the resampler's filter makes the count its own
_WAV_HEADER_BYTES = 44  # RIFF, fmt and data chunk headers: the least a PCM WAV holds besides data
_T = TypeVar("_T")


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # FFmpeg codec name: "h264", "mpeg4", …
    width: int
    height: int
    frame_rate: Fraction | None  # average frame rate, when known
    time_base: Fraction
    start_s: float
    duration_s: float | None  # from the container's metadata
    avcc: bool  # H.264 with avcC extradata (length-prefixed NAL units), as MP4 stores it


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    start_s: float
    duration_s: float | None  # from the container's metadata (an estimate for some MP3s)


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_name: str
    duration_s: float | None
    video: VideoInfo | None
    audio: AudioInfo | None
    undecodable: tuple[str, ...] = ()  # stream types present whose first frame would not decode


@dataclass(frozen=True)
class VideoScan:
    """What demuxing every video packet (without decoding) tells about a video stream."""

    start_pts: int  # the earliest pts, in ``time_base``; output timestamps are shifted by it
    time_base: Fraction
    duration_s: float  # from the earliest pts to the end of the last-shown frame
    packet_count: int
    copy_problem: str | None  # why the packets cannot be copied as they are (None: they can)
    rebuilt_dts: tuple[int, ...] | None  # dts to use when the container stores none (Matroska)


def probe(path: Path | str) -> MediaInfo:
    """Open ``path``, describe its first video and audio streams and check that each decodes.

    Raises ``MediaError`` for files FFmpeg cannot read and files with no decodable audio or
    video. A stream that does not decode is left out (named in ``undecodable``), so a video
    with a broken sound track can still serve as a picture.
    """
    path = Path(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not SUPPORTED_FORMATS.intersection(container.format.name.split(",")):
                raise MediaError(f"unsupported format '{container.format.name}'; expected {SUPPORTED_TEXT}")
            video_stream = _main_video_stream(container)
            audio_stream = container.streams.audio[0] if container.streams.audio else None
            if video_stream is None and audio_stream is None:
                raise MediaError("the file has no audio or video stream")
            failed = _undecodable(container, [s for s in (video_stream, audio_stream) if s is not None])
            if video_stream in failed:
                video_stream = None
            if audio_stream in failed:
                audio_stream = None
            if video_stream is None and audio_stream is None:
                kinds = " and ".join(sorted(s.type for s in failed))
                raise MediaError(f"its {kinds} stream has no decodable frames (empty or corrupt)")
            duration_s = container.duration / 1_000_000 if container.duration else None
            return MediaInfo(
                path=path,
                format_name=container.format.name,
                duration_s=duration_s,
                video=_video_info(video_stream, duration_s) if video_stream else None,
                audio=_audio_info(audio_stream, duration_s) if audio_stream else None,
                undecodable=tuple(sorted(s.type for s in failed)),
            )
    except av.FFmpegError as exc:
        raise MediaError(describe_ffmpeg_error(exc)) from None


def describe_ffmpeg_error(exc: av.FFmpegError) -> str:
    """A short reason without the file path (the caller names the asset)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, av.InvalidDataError):
        return f"not a readable audio or video file ({reason.lower()})"
    return f"cannot read media: {reason}"


def _main_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real video stream: MP3/M4A cover art shows up as an 'attached picture' stream."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _undecodable(
    container: av.container.InputContainer, streams: list[av.stream.Stream]
) -> list[av.stream.Stream]:
    """The streams among ``streams`` that yield no frame within the first packets."""
    waiting = {stream.index: stream for stream in streams}
    for count, packet in enumerate(container.demux(*streams)):
        if packet.stream.index in waiting:
            try:
                if packet.decode():
                    del waiting[packet.stream.index]
            except av.FFmpegError:
                pass  # a damaged packet: the next one may decode
        if not waiting or count > _DECODE_CHECK_PACKETS:
            break
    return list(waiting.values())


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _video_info(stream: av.VideoStream, container_duration_s: float | None) -> VideoInfo:
    context = stream.codec_context
    extradata = bytes(context.extradata or b"")
    return VideoInfo(
        codec=context.name,
        width=context.width,
        height=context.height,
        frame_rate=stream.average_rate or stream.guessed_rate,
        time_base=stream.time_base,
        start_s=_seconds(stream.start_time, stream.time_base) or 0.0,
        duration_s=_seconds(stream.duration, stream.time_base) or container_duration_s,
        avcc=context.name == "h264" and extradata[:1] == b"\x01",
    )


def _audio_info(stream: av.AudioStream, container_duration_s: float | None) -> AudioInfo:
    context = stream.codec_context
    return AudioInfo(
        codec=context.name,
        sample_rate=context.sample_rate,
        channels=context.channels,
        start_s=_seconds(stream.start_time, stream.time_base) or 0.0,
        duration_s=_seconds(stream.duration, stream.time_base) or container_duration_s,
    )


def scan_video(path: Path | str) -> VideoScan:
    """Demux (never decode) every packet of the main video stream: exact duration, and whether
    its timestamps allow copying the packets into an MP4."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _main_video_stream(container)
            if stream is None:
                raise MediaError("the file has no video stream")
            return _scan_packets(container, stream)
    except av.FFmpegError as exc:
        raise MediaError(describe_ffmpeg_error(exc)) from None


def _scan_packets(container: av.container.InputContainer, stream: av.VideoStream) -> VideoScan:
    time_base = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    frame_ticks = max(1, round(1 / (rate * time_base)))
    pts_list: list[int] = []
    end = None
    problem: str | None = None
    last_dts: int | None = None
    missing_dts = False
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the demuxer's end-of-stream marker
        if packet.pts is None:
            problem = problem or "some video packets have no presentation timestamp"
            continue
        pts_list.append(packet.pts)
        shown_until = packet.pts + (packet.duration or frame_ticks)
        end = shown_until if end is None else max(end, shown_until)
        if packet.dts is None:
            missing_dts = True
        elif last_dts is not None and packet.dts <= last_dts:
            problem = problem or "video decode timestamps are not increasing"
        last_dts = packet.dts if packet.dts is not None else last_dts
    if not pts_list or end is None:
        raise MediaError("the video stream has no packets")
    start = min(pts_list)
    rebuilt = _rebuild_dts(pts_list) if missing_dts and problem is None else None
    if missing_dts and rebuilt is None:
        problem = problem or "video packets lack decode timestamps"
    return VideoScan(
        start_pts=start,
        time_base=time_base,
        duration_s=float((end - start) * time_base),
        packet_count=len(pts_list),
        copy_problem=problem,
        rebuilt_dts=rebuilt,
    )


def _rebuild_dts(pts_in_decode_order: list[int]) -> tuple[int, ...] | None:
    """Decode timestamps for a stream that stores only pts (Matroska with B-frames): the sorted
    pts shifted back just enough that every dts <= its pts. None when pts repeat."""
    ordered = np.sort(np.asarray(pts_in_decode_order, dtype=np.int64))
    if np.any(np.diff(ordered) <= 0):
        return None
    shift = int(np.max(ordered - np.asarray(pts_in_decode_order, dtype=np.int64)))
    return tuple(int(v) for v in ordered - shift)


def _open_audio(path: Path, *, ours: bool) -> av.container.InputContainer:
    if ours and path.suffix.lower() == ".wav":
        return av.open(str(path), format="wav", options=_OWN_WAV_OPTIONS, metadata_errors="ignore")
    return av.open(str(path), metadata_errors="ignore")


class AudioReader:
    """Streams the first audio stream of a file as float32 at ``sample_rate``.

    ``read(n)`` returns shape (channels, n) with channels 1 (mono sources, to be broadcast) or 2;
    after the end of the stream it pads with silence. Memory holds at most one decoded frame
    beyond what was asked for.
    """

    def __init__(self, path: Path | str, *, sample_rate: int = SAMPLE_RATE, ours: bool = False) -> None:
        """``ours``: the file is one autovid wrote (speech), not a user's."""
        self.path = Path(path)
        try:
            self._container = _open_audio(self.path, ours=ours)
        except av.FFmpegError as exc:
            raise MediaError(describe_ffmpeg_error(exc)) from None
        if not self._container.streams.audio:
            self._container.close()
            raise MediaError("the file has no audio stream")
        stream = self._container.streams.audio[0]
        self.channels = 1 if stream.codec_context.channels == 1 else 2
        self._resampler = av.AudioResampler(
            format="fltp", layout="mono" if self.channels == 1 else "stereo", rate=sample_rate
        )
        self._frames: Iterator[av.AudioFrame] | None = self._container.decode(stream)
        self._pending: deque[np.ndarray] = deque()
        self._pending_samples = 0

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def exhausted(self) -> bool:
        return self._frames is None and self._pending_samples == 0

    def read(self, count: int) -> np.ndarray:
        """The next ``count`` samples, shape (channels, count), silence past the end."""
        self._fill(count)
        out = np.zeros((self.channels, count), dtype=np.float32)
        filled = 0
        while filled < count and self._pending:
            chunk = self._pending[0]
            take = min(count - filled, chunk.shape[1])
            out[:, filled : filled + take] = chunk[:, :take]
            filled += take
            if take == chunk.shape[1]:
                self._pending.popleft()
            else:
                self._pending[0] = chunk[:, take:]
        self._pending_samples -= filled
        return out

    def skip(self, count: int) -> None:
        while count > 0 and not self.exhausted:
            step = min(count, SAMPLE_RATE)
            self.read(step)
            count -= step

    def read_some(self, count: int) -> np.ndarray:
        """Up to ``count`` next samples, shape (channels, m): fewer (even none) only at the end."""
        self._fill(count)
        return self.read(min(count, self._pending_samples))

    def count_remaining(self) -> int:
        """Decode to the end and return how many samples were left (used to measure a clip)."""
        total = 0
        while not self.exhausted:
            self._fill(SAMPLE_RATE)
            total += self._pending_samples
            self._pending.clear()
            self._pending_samples = 0
        return total

    def close(self) -> None:
        self._frames = None
        self._pending.clear()
        self._pending_samples = 0
        self._container.close()

    def _fill(self, count: int) -> None:
        while self._pending_samples < count and self._frames is not None:
            try:
                frame = next(self._frames, None)
                resampled = self._resampler.resample(frame)
            except av.FFmpegError as exc:
                raise MediaError(f"audio decoding failed: {describe_ffmpeg_error(exc)}") from None
            if frame is None:
                self._frames = None
            for out_frame in resampled:
                if out_frame.samples:
                    self._push(out_frame.to_ndarray())

    def _push(self, samples: np.ndarray) -> None:
        self._pending.append(samples)
        self._pending_samples += samples.shape[1]


class DecodedAudio:
    """One source shared by several plays (a looped music track): decoded once, as far as any
    play has read, and kept in memory, so a repetition costs no decode and no resample. Plays
    read through ``reader()``; the file closes and the memory goes when the last one closes.

    With ``kept`` (the process's ``DecodedSources`` and the file's digest) the samples an earlier
    render decoded are read from there — the file is opened only to decode past them — and what
    this render decoded is kept there when the last play closes. ``decode_ahead`` decodes it
    from another thread while the plays read: each step holds a lock, so a play reads whatever is
    decoded and waits at most for the step in progress."""

    def __init__(
        self,
        path: Path | str,
        *,
        plays: int,
        expected_samples: int,
        sample_rate: int,
        kept: tuple[DecodedSources, str] | None = None,
        ours: bool = False,
    ) -> None:
        self._path, self._rate, self._kept, self._ours = Path(path), sample_rate, kept, ours
        earlier = kept[0].get(kept[1]) if kept else None
        self._source: AudioReader | None = None
        if earlier is None:
            self._source = AudioReader(path, sample_rate=sample_rate, ours=ours)
            channels = self._source.channels
            self._samples = np.zeros((channels, max(expected_samples, 1)), dtype=np.float32)
            self._decoded, self._exhausted = 0, False
        else:  # read-only: decoding further copies it into a larger buffer first
            self._samples, self._exhausted = earlier
            self._decoded = self._samples.shape[1]
        self._unopened = plays
        self._open = 0
        self._released = False
        self._failure: MediaError | None = None  # met while decoding ahead: raised to the plays
        self._lock = threading.Lock()

    def reader(self) -> DecodedReader:
        with self._lock:
            self._unopened -= 1
            self._open += 1
        return DecodedReader(self)

    def read(self, start: int, count: int) -> np.ndarray:
        with self._lock:
            self._decode_until(start + count)
            part = self._samples[:, start : min(start + count, self._decoded)]
            if part.shape[1] == count:
                return part
            out = np.zeros((self._samples.shape[0], count), dtype=np.float32)
            out[:, : part.shape[1]] = part
            return out

    def decode_ahead(self, stop: int, halt: threading.Event | None = None) -> None:
        """Decode up to sample ``stop`` a second at a time (on a thread of its own), until the
        plays are done with the source or ``halt`` is set. A decoding error is raised to the play
        that reaches it."""
        while halt is None or not halt.is_set():
            with self._lock:
                if self._released or self._failure or self._decoded >= stop or self._exhausted:
                    return
                try:
                    self._decode_until(min(stop, self._decoded + SAMPLE_RATE))
                except MediaError as exc:
                    self._failure = exc

    def release(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open <= 0 and self._unopened <= 0:
                if self._kept:
                    self._kept[0].keep(self._kept[1], self._samples[:, : self._decoded], self._exhausted)
                if self._source is not None:
                    self._source.close()
                self._samples = self._samples[:, :0]
                self._released = True

    def _decode_until(self, stop: int) -> None:
        if self._failure is not None and self._decoded < stop:
            raise self._failure
        while self._decoded < stop and not self._exhausted:
            source = self._reader()
            chunk = source.read_some(max(stop - self._decoded, SAMPLE_RATE))
            self._exhausted = source.exhausted
            end = self._decoded + chunk.shape[1]
            if end > self._samples.shape[1]:  # longer than its probed duration said
                grown = np.zeros((self._samples.shape[0], 2 * end), dtype=np.float32)
                grown[:, : self._decoded] = self._samples[:, : self._decoded]
                self._samples = grown
            self._samples[:, self._decoded : end] = chunk
            self._decoded = end

    def _reader(self) -> AudioReader:
        if self._source is None:  # continuing past what an earlier render decoded
            self._source = AudioReader(self._path, sample_rate=self._rate, ours=self._ours)
            self._source.skip(self._decoded)
        return self._source


class DecodedSources:
    """Decoded sources kept across the renders of one process (a batch's music bed): each file's
    samples by its content digest, as far as a render decoded them, so the next render neither
    decodes nor resamples them again. Bounded in bytes; the least recently used go first."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[np.ndarray, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[np.ndarray, bool] | None:
        """(samples decoded so far, whether that is the whole file), or None."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def keep(self, digest: str, samples: np.ndarray, complete: bool) -> None:
        if samples.nbytes > self.max_bytes or samples.shape[1] == 0:
            return
        with self._lock:
            earlier = self._entries.get(digest)
            if earlier is None or earlier[0].shape[1] < samples.shape[1]:
                self._entries[digest] = (samples, complete)
            self._entries.move_to_end(digest)
            while sum(entry[0].nbytes for entry in self._entries.values()) > self.max_bytes:
                self._entries.popitem(last=False)


class DecodedReader:
    """One play of a ``DecodedAudio``: ``AudioReader``'s interface, reading from memory."""

    def __init__(self, audio: DecodedAudio) -> None:
        self._audio: DecodedAudio | None = audio
        self._position = 0

    def read(self, count: int) -> np.ndarray:
        if self._audio is None:
            raise MediaError("read after close")
        out = self._audio.read(self._position, count)
        self._position += count
        return out

    def skip(self, count: int) -> None:
        self._position += count

    def close(self) -> None:
        if self._audio is not None:
            self._audio.release()
            self._audio = None


def audio_packet_duration_s(path: Path | str) -> float | None:
    """The first audio stream's length from its packets' durations (demuxed, not decoded): exact
    where header figures are estimates (an MP3 without a Xing header is guessed from its bit rate),
    and cheap. None when some packet does not state its duration."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            total = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if not packet.duration:
                    return None
                total += packet.duration
            return float(total * stream.time_base) if total else None
    except (av.FFmpegError, IndexError):
        return None


def audio_sample_count(path: Path | str, *, sample_rate: int = SAMPLE_RATE, ours: bool = False) -> int:
    """The exact number of samples the file decodes to at ``sample_rate`` (a streaming decode);
    ``ours`` as for ``AudioReader``: a WAV autovid wrote is measured from its header."""
    if ours and (counted := _own_wav_sample_count(Path(path), sample_rate)) is not None:
        return counted
    with AudioReader(path, sample_rate=sample_rate, ours=ours) as reader:
        return reader.count_remaining()


def _own_wav_sample_count(path: Path, sample_rate: int) -> int | None:
    """A PCM WAV's length at ``sample_rate`` from its header: its frames times the rate ratio,
    rounded up, which is what the resampler yields for anything longer than its filter (measured
    against a decode at 8-96 kHz, from 36 frames up). Speech is measured so once per file instead
    of decoded twice, to measure and to mix (~8 ms a second of speech). None where the header
    cannot be trusted to say it: not PCM, data it does not hold, or too short."""
    if path.suffix.lower() != ".wav":
        return None
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
            frame_bytes = wav.getsampwidth() * wav.getnchannels()
    except (OSError, EOFError, wave.Error):
        return None
    if frames < _HEADER_COUNT_MIN_FRAMES or frames * frame_bytes > size - _WAV_HEADER_BYTES or rate <= 0:
        return None  # e.g. a header written before its sizes were known
    return -(-frames * sample_rate // rate)


def check_limits(path: Path | str, limits: RenderLimits) -> None:
    """Refuse a file over ``limits`` from its headers alone, before anything is decoded.

    FFmpeg decodes a first frame while opening a file to learn its format; ``max_pixels`` makes
    that decode refuse frames over the limit, so a small file declaring a huge frame costs
    milliseconds here instead of gigabytes of memory. Raises ``MediaError`` naming the limit."""
    options = {"max_pixels": str(limits.max_frame_pixels)}
    try:
        with av.open(str(path), metadata_errors="ignore", options=options) as container:
            problem = _limit_problem(container, limits)
    except av.FFmpegError as exc:
        raise MediaError(describe_ffmpeg_error(exc)) from None
    if problem is not None:
        raise MediaError(problem)


def _limit_problem(container: av.container.InputContainer, limits: RenderLimits) -> str | None:
    streams = container.streams
    problems = [limits.streams_problem(len(streams.audio) + len(streams.subtitles))]
    problems += [limits.frame_problem(s.codec_context.width, s.codec_context.height) for s in streams.video]
    problems += [
        limits.audio_problem(s.codec_context.sample_rate, s.codec_context.channels) for s in streams.audio
    ]
    declared = [container.duration / 1_000_000 if container.duration else None]
    declared += [_seconds(s.duration, s.time_base) for s in (*streams.video, *streams.audio)]
    problems += [limits.duration_problem(max((d for d in declared if d is not None), default=None))]
    return next((p for p in problems if p is not None), None)


class ProbeCache:
    """What reading a file's headers and packets found (``probe``, ``scan_video``, a clip's
    length, a limits check passed), kept across the renders of one process by the file's content
    digest: a batch's rows each fetch their own copy of the template's video, and only the first
    probes and scans it. A hit is what a fresh call returns (a probe's ``path`` is the file asked
    about); failures are not kept. Bounded in entries, the least recently used go first;
    ``max_entries=0`` keeps nothing (every call reads the file, as without a cache).

    The digest of a file is itself remembered by its device, inode, size and modification time:
    ``autovid batch`` rows hard-link the template's local files (the same inode under another
    path), so only the first row hashes them; a copy (the service's, a download) is a new inode
    and is hashed, and a file rewritten gets a new modification time.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, Hashable], object] = OrderedDict()
        self._digests: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, path: Path) -> str:
        status = os.stat(path)
        # Not the change time: linking the file (every batch row) changes it.
        identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        with self._lock:
            known = self._digests.get(identity)
        if known is None:
            with path.open("rb") as file:
                known = hashlib.file_digest(file, "sha256").hexdigest()
            with self._lock:
                self._digests[identity] = known
                while len(self._digests) > self.max_entries:
                    self._digests.popitem(last=False)
        return known

    def get(self, path: Path, what: Hashable, compute: Callable[[Path], _T]) -> _T:
        """``compute(path)``, or what it returned for a file of the same content."""
        if self.max_entries <= 0:  # keeps nothing: not even worth hashing the file
            return compute(path)
        try:
            key = (self.digest(path), what)
        except OSError:  # unreadable: the call itself says why, in its own terms
            return compute(path)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                found = self._entries[key]
                return dataclasses.replace(found, path=path) if isinstance(found, MediaInfo) else found  # type: ignore[return-value]
        value = compute(path)
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def probe(self, path: Path) -> MediaInfo:
        return self.get(path, "probe", probe)

    def scan_video(self, path: Path) -> VideoScan:
        return self.get(path, "scan", scan_video)

    def check_limits(self, path: Path, limits: RenderLimits) -> None:
        self.get(path, ("limits", limits), lambda p: check_limits(p, limits))

    def audio_packet_duration_s(self, path: Path) -> float | None:
        return self.get(path, "packet-duration", audio_packet_duration_s)

    def audio_sample_count(self, path: Path, sample_rate: int = SAMPLE_RATE, *, ours: bool = False) -> int:
        def count(p: Path) -> int:
            return audio_sample_count(p, sample_rate=sample_rate, ours=ours)

        return self.get(path, ("samples", sample_rate), count)
