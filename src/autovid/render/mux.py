"""Writing media: the AAC mix track, then the MP4 with the video copied or encoded once.

Fast path: an H.264 input whose timestamps are usable and a spec that asks for no bitrate and no
fps change has its video packets copied into the MP4 unchanged — no decode, no encode — so the
render costs little more than the audio. Otherwise the video is decoded and encoded once with
libx264 (yuv420p) at the spec's preset, bitrate and fps, on threads of its own that start before
the audio is mixed (``EncodingMp4Writer``). Both writers write through ``_Mp4File``: a partial
file beside the target, renamed when complete, removed on any failure or cancel.

Packets from both streams are fed to the muxer in decode-time order, so memory stays flat and the
file is interleaved; ``+faststart`` puts the index at the front for streaming playback.
"""

from __future__ import annotations

import heapq
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar

import av

from autovid.errors import MediaError
from autovid.render.aac import AAC_OPTIONS, DEFAULT_AUDIO_BITRATE_BPS, add_aac_stream  # noqa: F401 - benchmarks
from autovid.render.media import VideoInfo, VideoScan, describe_ffmpeg_error
from autovid.spec.models import Encoding

_MUX_CHECK_S = 0.5  # call checkpoint/progress every this much media time while muxing
# Decoded frames queued for the encoder (~3 MB each at 1080p) and encoded packets queued for the
# muxer: the encoder runs ahead while the audio is mixed (~0.1 s per 1 s of video, so a 10-minute
# video is ~60 s ahead at most, ~30 MB at 4 Mbit/s) and then waits for the muxer. libx264 keeps
# its own look-ahead of frames, so a few decoded ones suffice (8 cost 15 MB more at 1080p, no speed).
_FRAMES_AHEAD = 3
_PACKETS_AHEAD = 2048
_POLL_S = 0.1  # how often a waiting pipe looks at its stop flag
_T = TypeVar("_T")
_TEXT_TIME_BASE = Fraction(1, 1000)
_TEXT_TICK_S = float(_TEXT_TIME_BASE)
_NEVER = float("inf")  # the decode time of a stream's end: after every packet
# Options for the decoders FFmpeg opens to describe each stream (options past the last stream are
# ignored): none of their frames is decoded.
_NO_DECODING = [{"skip_frame": "all"}] * 64
# The mov_text encoder wants an ASS header to open; the MP4 stores only the text samples.
_ASS_HEADER = (
    b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n[V4+ Styles]\r\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
    b"Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
    b"Alignment, MarginL, MarginR, MarginV, Encoding\r\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
    b"[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
)


@dataclass(frozen=True)
class TextTrack:
    """A soft subtitle track: (start s, end s, text) cues and the ISO 639-2 language ("eng")."""

    language: str
    cues: Sequence[tuple[float, float, str]]


@dataclass(frozen=True)
class VideoMode:
    copy: bool
    reason: str  # why the video is copied or encoded, for logs and results


def choose_video_mode(info: VideoInfo, scan: VideoScan, encoding: Encoding) -> VideoMode:
    """Copy the video packets when nothing asks for a change and the stream allows it."""
    if info.codec != "h264":
        return VideoMode(False, f"the video is {info.codec}, not H.264")
    if encoding.bitrate is not None or encoding.fps is not None:
        return VideoMode(False, "the spec sets output.encoding bitrate or fps")
    if not info.avcc:
        return VideoMode(False, "the H.264 stream is in Annex B form (no avcC header)")
    if scan.copy_problem:
        return VideoMode(False, scan.copy_problem)
    return VideoMode(True, "H.264 packets copied unchanged")


def mux(
    *,
    video_path: Path,
    video: VideoInfo,
    scan: VideoScan,
    audio_path: Path,
    output_path: Path,
    encoding: Encoding,
    checkpoint: Callable[[], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    text_track: TextTrack | None = None,
    overlay: Callable[[av.VideoFrame, float], av.VideoFrame] | None = None,
) -> None:
    """Write ``output_path`` (MP4, faststart): the video encoded once, the AAC track copied from
    ``audio_path``, the ``text_track`` as a mov_text stream; ``overlay`` draws on each frame (at
    its time in seconds) before it is encoded. (The fast path, video copied, is
    ``CopyingMp4Writer``.)"""
    with EncodingMp4Writer(
        video_path=video_path,
        video=video,
        scan=scan,
        output_path=output_path,
        encoding=encoding,
        overlay=overlay,
    ) as writer:
        writer.finish(audio_path, checkpoint=checkpoint, on_progress=on_progress, text_track=text_track)


class _Mp4File:
    """An MP4 being written: ``NAME.partial`` beside its target, renamed to the target when it is
    complete, closed and removed when anything fails or the render is cancelled — a failed render
    leaves nothing half-written under the output's name. It also owns the inputs a writer opens,
    so that one ``close`` releases everything. Both writers write through it."""

    def __init__(self, output_path: Path) -> None:
        self._target = output_path
        self._partial = output_path.with_name(output_path.name + ".partial")
        self._containers: list[Any] = []
        output_path.parent.mkdir(parents=True, exist_ok=True)
        with media_errors():
            self.out: av.container.OutputContainer = self.opened(
                av.open(str(self._partial), "w", format="mp4", options={"movflags": "+faststart"})
            )

    def opened(self, container: Any) -> Any:
        self._containers.append(container)
        return container

    def open_video(
        self, path: Path, *, decoding: bool = True
    ) -> tuple[av.container.InputContainer, av.VideoStream]:
        """The input and its main video stream. ``decoding=False``: for copying packets only —
        FFmpeg does not decode frames while it opens the file (so it leaves the stream's pixel
        format unknown)."""
        with media_errors():
            container = self.opened(_opened_input(path, decoding))
        return container, next(s for s in container.streams.video if s.index == _video_index(container))

    def commit(self) -> None:
        """Close everything (the muxer writes its index) and put the file under its name."""
        with media_errors():
            self.close()
        os.replace(self._partial, self._target)

    def discard(self) -> None:
        self.close()
        self._partial.unlink(missing_ok=True)

    def close(self) -> None:
        while self._containers:
            self._containers.pop().close()


def _opened_input(path: Path, decoding: bool) -> av.container.InputContainer:
    if not decoding:
        try:
            return av.open(str(path), metadata_errors="ignore", stream_options=_NO_DECODING)
        except ValueError:  # a format whose streams appear only once it is read (FLV): decode
            pass
    return av.open(str(path), metadata_errors="ignore")


@contextmanager
def media_errors() -> Iterator[None]:
    """FFmpeg's errors while writing, as the ``MediaError`` the pipeline reports."""
    try:
        yield
    except av.FFmpegError as exc:
        raise MediaError(f"writing the MP4 failed: {describe_ffmpeg_error(exc)}") from None


@contextmanager
def _discarded_on_error(file: _Mp4File) -> Iterator[None]:
    """For a writer's constructor: when it fails, no ``with`` block will clean up after it."""
    try:
        yield
    except BaseException:
        file.discard()
        raise


class EncodingMp4Writer:
    """The re-encoding path's MP4. Made before the audio is mixed: the video is decoded and
    encoded from then on, on two threads of its own (FFmpeg releases the GIL in both, and the
    decoder's and libx264's own threads keep the cores busy), while the mix is being encoded.
    ``finish(audio_path)`` muxes the encoded video and the AAC track (and a text track, whose
    cues may wait for the speech) interleaved and puts the file in place. Used as a context
    manager: leaving the block without ``finish()`` stops the threads and removes the partial
    file."""

    def __init__(
        self,
        *,
        video_path: Path,
        video: VideoInfo,
        scan: VideoScan,
        output_path: Path,
        encoding: Encoding,
        overlay: Callable[[av.VideoFrame, float], av.VideoFrame] | None = None,
        max_frame_pixels: int | None = None,
    ) -> None:
        self._file = _Mp4File(output_path)
        self._duration_s = scan.duration_s
        self._stop = threading.Event()
        self._pipes: list[_Pipe[Any]] = []
        with self._cleaned_up_on_error(), media_errors():
            container, stream = self._file.open_video(video_path)
            stream.thread_type = "AUTO"  # frame and slice threads, as many as the cores
            if max_frame_pixels:  # also after the stream changes its frame size part-way through
                stream.codec_context.options = {"max_pixels": str(max_frame_pixels)}
            out_stream, rate = _add_encoder(self._file.out, stream, video, encoding)
            size = out_stream.width, out_stream.height
            frames = self._pipe(
                (t, _for_encoder(f, *size))
                for t, f in _decoded_frames(container, stream, scan, rate, max_frame_pixels)
            )
            if encoding.fps:
                timed = _constant_rate(frames, rate, scan.duration_s)
            else:
                timed = _own_timing(frames, stream.time_base)
            self._packets = self._pipe(_encoded(out_stream, timed, overlay), maxsize=_PACKETS_AHEAD)
        self._finished = False

    def __enter__(self) -> EncodingMp4Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._finished:
            self._stop_threads()
            self._file.discard()

    def finish(
        self,
        audio_path: Path,
        *,
        checkpoint: Callable[[], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
        text_track: TextTrack | None = None,
    ) -> None:
        """Mux the video as it is encoded with the AAC track of ``audio_path`` and the
        ``text_track`` as a mov_text stream; put the file in place."""
        with media_errors():
            audio_in = self._file.opened(av.open(str(audio_path)))
            in_audio = audio_in.streams.audio[0]
            audio_packets = _demuxed_packets(
                audio_in, in_audio, self._file.out.add_stream_from_template(in_audio)
            )
            texts = None
            if text_track is not None:
                texts = text_packets(text_track, add_text_stream(self._file.out, text_track.language))
            _write_interleaved(
                self._file.out, self._packets, audio_packets, self._duration_s, checkpoint, on_progress, texts
            )
        self._stop_threads()
        self._file.commit()
        self._finished = True

    @contextmanager
    def _cleaned_up_on_error(self) -> Iterator[None]:
        """For the constructor: when it fails, no ``with`` block will stop what it started."""
        try:
            yield
        except BaseException:
            self._stop_threads()
            self._file.discard()
            raise

    def _pipe(self, items: Iterator[_T], maxsize: int = _FRAMES_AHEAD) -> _Pipe[_T]:
        pipe = _Pipe(items, maxsize=maxsize, stop=self._stop)
        self._pipes.append(pipe)
        return pipe

    def _stop_threads(self) -> None:
        self._stop.set()
        for pipe in reversed(self._pipes):  # the encoder first: it reads from the decoder
            pipe.join()


class CopyingMp4Writer:
    """The fast path's MP4, written while the audio is still being encoded (an ``AacSink``).

    Each batch of AAC packets is muxed as soon as its segment is encoded, after the copied video
    packets that come before it in decode time, so the file is interleaved exactly as ``mux``
    interleaves it, without writing the AAC track to a file of its own and reading it back.
    Used as a context manager: ``finish()`` adds the rest of the video and puts the file in place;
    leaving the block without it (an error, a cancel) removes the partial file.
    """

    def __init__(
        self, *, video_path: Path, scan: VideoScan, output_path: Path, text_track: TextTrack | None = None
    ) -> None:
        self._file = _Mp4File(output_path)
        self._out = self._file.out
        self._finished = False
        with _discarded_on_error(self._file), media_errors():
            # The packets are copied, never decoded: opening without decoding frames to describe
            # the stream (~13 ms of a 1080p template's ~17 ms open) leaves every field the muxer
            # writes as it is.
            video_in, in_video = self._file.open_video(video_path, decoding=False)
            out_video = self._out.add_stream_from_template(in_video)
            self._video = _copied_packets(video_in, in_video, out_video, scan)
            self._video_tick_s = float(in_video.time_base)
            self._cues: Iterator[av.Packet] = iter(())
            if text_track is not None:  # cues go in among the video packets, in time order
                self._cues = text_packets(text_track, add_text_stream(self._out, text_track.language))
            self._next_video, self._video_s = _next_timed(self._video, self._video_tick_s)
            self._next_cue, self._cue_s = _next_timed(self._cues, _TEXT_TICK_S)
        self._audio: av.AudioStream | None = None

    def __enter__(self) -> CopyingMp4Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._finished:
            self._file.discard()

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None:
        with media_errors():
            self._audio = add_aac_stream(self._out, sample_rate, bitrate_bps)

    def write_aac(self, packets: list[av.Packet]) -> None:
        """Mux one segment's AAC packets (one time base, in decode order), each after the video
        packets and cues whose decode time in seconds is at or before its own."""
        if not packets:
            return
        tick_s = float(packets[0].time_base)  # one Fraction per segment, not one per packet
        audio, mux = self._audio, self._out.mux_one
        with media_errors():
            for packet in packets:
                self._video_until(packet.dts * tick_s, mux)
                packet.stream = audio
                mux(packet)

    def finish(self) -> None:
        """The video packets after the last audio packet, the index (moved to the front), and the
        file renamed to its name."""
        with media_errors():
            self._video_until(_NEVER, self._out.mux_one)
        self._file.commit()
        self._finished = True

    def _video_until(self, time_s: float, mux: Callable[[av.Packet], None]) -> None:
        """Mux the video packets and cues up to ``time_s`` (decode time in seconds), ordered by
        time, a video packet before a cue at the same time. Each packet is muxed as soon as it is
        demuxed: holding a segment's worth (~4 MB) before muxing it measured slower."""
        video, video_s, cue_s = self._next_video, self._video_s, self._cue_s
        while True:
            if cue_s < video_s:  # a cue at the same time as a video packet comes after it
                if cue_s > time_s:
                    break
                mux(self._next_cue)
                self._next_cue, cue_s = _next_timed(self._cues, _TEXT_TICK_S)
            elif video is not None and video_s <= time_s:
                mux(video)
                video, video_s = _next_timed(self._video, self._video_tick_s)
            else:
                break
        self._next_video, self._video_s, self._cue_s = video, video_s, cue_s


def _next_timed(packets: Iterator[av.Packet], tick_s: float) -> tuple[Any, float]:
    """The next packet and its decode time in seconds (None and infinity at the end)."""
    packet = next(packets, None)
    return (packet, packet.dts * tick_s) if packet is not None else (None, _NEVER)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Stopped(Exception):
    """The writer is being closed: a pipe's reader gives up waiting."""


_END = object()


class _Pipe(Generic[_T]):
    """Runs the iterator ``items`` on a thread of its own, up to ``maxsize`` items ahead of the
    reader; its exceptions reach the reader. Setting ``stop`` ends both sides (the reader with
    ``_Stopped``); ``join()`` waits for the thread."""

    def __init__(self, items: Iterator[_T], *, maxsize: int, stop: threading.Event) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = stop
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(items,), name="video", daemon=True)
        self._thread.start()

    def __iter__(self) -> _Pipe[_T]:
        return self

    def __next__(self) -> _T:
        if self._ended:
            raise StopIteration
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self._stop.is_set():
                    raise _Stopped from None
        if item is _END or isinstance(item, _Failure):
            self._ended = True
            if item is _END:
                raise StopIteration
            raise item.error
        return item

    def join(self) -> None:
        self._thread.join()

    def _run(self, items: Iterator[_T]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(_Failure(exc))

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False


def drawn_on(draw: Callable[[Any, float], Any]) -> Callable[[av.VideoFrame, float], av.VideoFrame]:
    """An ``overlay`` for ``mux`` from a drawing on yuv420p pixels (None: nothing to draw)."""

    def overlay(frame: av.VideoFrame, time_s: float) -> av.VideoFrame:
        pixels = draw(frame.to_ndarray(), time_s)
        if pixels is None:
            return frame
        drawn = av.VideoFrame.from_ndarray(pixels, format="yuv420p")
        drawn.pts, drawn.time_base = frame.pts, frame.time_base
        return drawn

    return overlay


def add_text_stream(out: av.container.OutputContainer, language: str) -> av.stream.Stream:
    stream = out.add_stream("mov_text")
    stream.codec_context.subtitle_header = _ASS_HEADER
    stream.time_base = _TEXT_TIME_BASE
    stream.metadata["language"] = language
    return stream


def text_packets(track: TextTrack, stream: av.stream.Stream) -> Iterator[av.Packet]:
    """One mov_text sample per cue (UTF-8 text after its 16-bit length); the muxer fills the
    gaps between cues with empty samples."""
    for start_s, end_s, text in sorted(track.cues):
        data = text.encode("utf-8")[:65_535]
        packet = av.Packet(struct.pack(">H", len(data)) + data)
        packet.pts = packet.dts = round(start_s * 1000)
        packet.duration = max(1, round(end_s * 1000) - packet.pts)
        packet.time_base = _TEXT_TIME_BASE
        packet.stream = stream
        yield packet


def _video_index(container: av.container.InputContainer) -> int:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream.index
    raise MediaError("the file has no video stream")


def _write_interleaved(
    out: av.container.OutputContainer,
    video_packets: Iterator[av.Packet],
    audio_packets: Iterator[av.Packet],
    duration_s: float,
    checkpoint: Callable[[], None] | None,
    on_progress: Callable[[float], None] | None,
    text_packets: Iterator[av.Packet] | None = None,
) -> None:
    next_check_s = 0.0
    keyed = [_keyed(video_packets, 0), _keyed(audio_packets, 1)]
    if text_packets is not None:
        keyed.append(_keyed(text_packets, 2))
    for time_s, _, packet in heapq.merge(*keyed):
        out.mux(packet)
        if time_s >= next_check_s:
            next_check_s = time_s + _MUX_CHECK_S
            if checkpoint:
                checkpoint()
            if on_progress and duration_s > 0:
                on_progress(min(1.0, max(0.0, time_s / duration_s)))


def _keyed(packets: Iterator[av.Packet], order: int) -> Iterator[tuple[float, int, av.Packet]]:
    """(decode time in seconds, stream order, packet): heapq.merge interleaves on it; the stream
    order breaks ties so packets themselves are never compared."""
    seconds_per_tick: float | None = None
    for packet in packets:
        if seconds_per_tick is None:  # one stream, one time base: no Fraction per packet
            seconds_per_tick = float(packet.time_base)
        yield packet.dts * seconds_per_tick, order, packet


def _demuxed_packets(
    container: av.container.InputContainer, stream: av.stream.Stream, out_stream: av.stream.Stream
) -> Iterator[av.Packet]:
    for packet in container.demux(stream):
        if packet.dts is None or packet.size == 0:
            continue  # end-of-stream marker
        packet.stream = out_stream
        yield packet


def _copied_packets(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    out_stream: av.stream.Stream,
    scan: VideoScan,
) -> Iterator[av.Packet]:
    """The input's packets, bytes untouched, timestamps shifted so the video starts at 0."""
    index = 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        dts = scan.rebuilt_dts[index] if scan.rebuilt_dts is not None else packet.dts
        packet.pts -= scan.start_pts
        packet.dts = dts - scan.start_pts
        packet.stream = out_stream
        index += 1
        yield packet


def _add_encoder(
    out: av.container.OutputContainer, stream: av.VideoStream, info: VideoInfo, encoding: Encoding
) -> tuple[av.VideoStream, Fraction]:
    """The libx264 output stream (yuv420p, even size) at ``encoding.fps`` when set, otherwise at
    the input's own timestamps; and the frame rate. Its encoder is opened here, before the
    threads start, so that the muxer's header never races the encoder thread."""
    rate = Fraction(encoding.fps).limit_denominator(1001) if encoding.fps else info.frame_rate or Fraction(30)
    out_stream = out.add_stream("libx264", rate=rate)
    out_stream.width, out_stream.height = info.width - info.width % 2, info.height - info.height % 2
    out_stream.pix_fmt = "yuv420p"
    out_stream.codec_context.time_base = 1 / rate if encoding.fps else stream.time_base
    out_stream.codec_context.options = {"preset": encoding.preset}
    # PyAV opens encoders with slice threads only, which makes libx264 split every frame into
    # slices: ~10 % slower on 2 cores and a little worse per bit. Frame and slice, FFmpeg's own
    # default, gives libx264's frame threads, as the ffmpeg CLI uses.
    out_stream.codec_context.thread_type = "AUTO"
    if encoding.bitrate:
        out_stream.bit_rate = encoding.video_bitrate_bps()
    out_stream.codec_context.open()
    return out_stream, rate


def _encoded(
    out_stream: av.VideoStream,
    frames: Iterator[av.VideoFrame],
    overlay: Callable[[av.VideoFrame, float], av.VideoFrame] | None = None,
) -> Iterator[av.Packet]:
    for frame in frames:
        if overlay is not None:
            frame = overlay(frame, float(frame.pts * frame.time_base))
        yield from out_stream.encode(frame)
    yield from out_stream.encode(None)


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    scan: VideoScan,
    rate: Fraction,
    max_frame_pixels: int | None = None,
) -> Iterator[tuple[float, av.VideoFrame]]:
    """(seconds since the video's start, frame); frames without timestamps follow the previous."""
    start_s = float(scan.start_pts * scan.time_base)
    last_s = -1.0
    for frame in _decoding(container.decode(stream), max_frame_pixels):
        time_s = float(frame.pts * stream.time_base) - start_s if frame.pts is not None else last_s + 1 / rate
        if time_s <= last_s:
            time_s = last_s + 1e-6  # decoders sometimes repeat a timestamp: keep order
        if time_s >= scan.duration_s:
            break
        last_s = time_s
        yield time_s, frame


def _decoding(frames: Iterator[av.VideoFrame], max_frame_pixels: int | None) -> Iterator[av.VideoFrame]:
    """The decoder's frames; its failure as a ``MediaError`` that says what it refuses."""
    try:
        yield from frames
    except av.FFmpegError as exc:
        refused = (
            f"; frames over {max_frame_pixels} pixels are refused (AUTOVID_MAX_FRAME_PIXELS), also where"
            " the stream changes its frame size part-way through"
            if max_frame_pixels
            else ""
        )
        raise MediaError(f"decoding the video failed: {describe_ffmpeg_error(exc)}{refused}") from None


def _own_timing(
    frames: Iterator[tuple[float, av.VideoFrame]], time_base: Fraction
) -> Iterator[av.VideoFrame]:
    last_pts = -1
    for time_s, frame in frames:
        pts = max(last_pts + 1, round(time_s / time_base))
        frame.pts, frame.time_base, last_pts = pts, time_base, pts
        yield frame


def _constant_rate(
    frames: Iterator[tuple[float, av.VideoFrame]], rate: Fraction, duration_s: float
) -> Iterator[av.VideoFrame]:
    """Frame k of the output shows the input frame on screen at k / rate."""
    total = max(1, round(duration_s * rate))
    index = 0
    shown: av.VideoFrame | None = None
    for time_s, frame in frames:
        while shown is not None and index < total and index / rate < time_s - 1e-6:
            yield _retimed(shown, index, rate)
            index += 1
        shown = frame
    while shown is not None and index < total:
        yield _retimed(shown, index, rate)
        index += 1


def _retimed(frame: av.VideoFrame, index: int, rate: Fraction) -> av.VideoFrame:
    # A repeated frame is re-stamped in place: the encoder takes its timestamp when it is sent.
    frame.pts, frame.time_base = index, 1 / rate
    return frame


def _for_encoder(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
        converted = frame.reformat(width=width, height=height, format="yuv420p")
        converted.pts, converted.time_base = frame.pts, frame.time_base
        frame = converted
    frame.pict_type = 0  # AV_PICTURE_TYPE_NONE: let x264 choose frame types, not the source's
    return frame
