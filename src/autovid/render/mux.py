"""Writing media: the AAC mix track, then the MP4 with the video copied or encoded once.

Fast path: an H.264 input whose timestamps are usable and a spec that asks for no bitrate and no
fps change has its video packets copied into the MP4 unchanged — no decode, no encode — so the
render costs little more than the audio. Otherwise the video is decoded and encoded once with
libx264 (yuv420p) at the spec's preset, bitrate and fps.

Packets from both streams are fed to the muxer in decode-time order, so memory stays flat and the
file is interleaved; ``+faststart`` puts the index at the front for streaming playback.
"""

from __future__ import annotations

import heapq
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from autovid.errors import MediaError
from autovid.render.aac import AAC_OPTIONS, DEFAULT_AUDIO_BITRATE_BPS, add_aac_stream  # noqa: F401 - benchmarks
from autovid.render.media import VideoInfo, VideoScan, describe_ffmpeg_error
from autovid.spec.models import Encoding

_MUX_CHECK_S = 0.5  # call checkpoint/progress every this much media time while muxing
_TEXT_TIME_BASE = Fraction(1, 1000)
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
    ``audio_path``, and the ``text_track`` as a mov_text stream. ``overlay`` draws on each decoded
    frame (at its time in seconds) before it is encoded. (The fast path, video copied, is
    ``CopyingMp4Writer``.)

    The file is written beside the target and renamed at the end, so a failed or cancelled
    render leaves nothing half-written under the output's name.
    """
    partial = output_path.with_name(output_path.name + ".partial")
    try:
        with (
            av.open(str(video_path), metadata_errors="ignore") as video_in,
            av.open(str(audio_path)) as audio_in,
            av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            in_video = next(s for s in video_in.streams.video if s.index == _video_index(video_in))
            video_packets = _encoded_packets(video_in, in_video, video, scan, encoding, out, overlay)
            in_audio = audio_in.streams.audio[0]
            audio_packets = _demuxed_packets(audio_in, in_audio, out.add_stream_from_template(in_audio))
            texts = (
                text_packets(text_track, add_text_stream(out, text_track.language)) if text_track else None
            )
            _write_interleaved(
                out, video_packets, audio_packets, scan.duration_s, checkpoint, on_progress, texts
            )
        os.replace(partial, output_path)
    except av.FFmpegError as exc:
        raise MediaError(f"writing the MP4 failed: {describe_ffmpeg_error(exc)}") from None
    finally:
        partial.unlink(missing_ok=True)


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
        self._output = output_path
        self._partial = output_path.with_name(output_path.name + ".partial")
        self._containers: list[av.container.Container] = []
        self._finished = False
        output_path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors(cleanup=True):
            video_in = self._opened(av.open(str(video_path), metadata_errors="ignore"))
            self._out = self._opened(
                av.open(str(self._partial), "w", format="mp4", options={"movflags": "+faststart"})
            )
            in_video = next(s for s in video_in.streams.video if s.index == _video_index(video_in))
            out_video = self._out.add_stream_from_template(in_video)
            self._video = _keyed(_copied_packets(video_in, in_video, out_video, scan), 0)
            if text_track is not None:  # cues go in among the video packets, in time order
                texts = text_packets(text_track, add_text_stream(self._out, text_track.language))
                self._video = heapq.merge(self._video, _keyed(texts, 2))
        self._next_video = next(self._video, None)
        self._audio: av.AudioStream | None = None

    def __enter__(self) -> CopyingMp4Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._finished:
            self._close()
            self._partial.unlink(missing_ok=True)

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None:
        with self._errors():
            self._audio = add_aac_stream(self._out, sample_rate, bitrate_bps)

    def write_aac(self, packets: list[av.Packet]) -> None:
        with self._errors():
            for packet in packets:
                self._video_until(packet.dts * float(packet.time_base))
                packet.stream = self._audio
                self._out.mux(packet)

    def finish(self) -> None:
        """The video packets after the last audio packet, the index (moved to the front), and the
        file renamed to its name."""
        with self._errors():
            self._video_until(float("inf"))
            self._close()
        os.replace(self._partial, self._output)
        self._finished = True

    def _video_until(self, time_s: float) -> None:
        while self._next_video is not None and self._next_video[0] <= time_s:
            self._out.mux(self._next_video[2])
            self._next_video = next(self._video, None)

    def _opened(self, container: Any) -> Any:
        self._containers.append(container)
        return container

    def _close(self) -> None:
        while self._containers:
            self._containers.pop().close()

    @contextmanager
    def _errors(self, *, cleanup: bool = False) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            if cleanup:  # the constructor failed: no ``with`` block will close what it opened
                self._close()
                self._partial.unlink(missing_ok=True)
            if isinstance(exc, av.FFmpegError):
                raise MediaError(f"writing the MP4 failed: {describe_ffmpeg_error(exc)}") from None
            raise


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


def _encoded_packets(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    info: VideoInfo,
    scan: VideoScan,
    encoding: Encoding,
    out: av.container.OutputContainer,
    overlay: Callable[[av.VideoFrame, float], av.VideoFrame] | None = None,
) -> Iterator[av.Packet]:
    """Decode every frame once and encode it with libx264, at ``encoding.fps`` when set (frames
    are repeated or dropped to the nearest time) or at the input's own timestamps."""
    stream.thread_type = "AUTO"
    rate = Fraction(encoding.fps).limit_denominator(1001) if encoding.fps else info.frame_rate or Fraction(30)
    out_stream = out.add_stream("libx264", rate=rate)
    out_stream.width, out_stream.height = info.width - info.width % 2, info.height - info.height % 2
    out_stream.pix_fmt = "yuv420p"
    out_stream.codec_context.time_base = 1 / rate if encoding.fps else stream.time_base
    out_stream.codec_context.options = {"preset": encoding.preset}
    if encoding.bitrate:
        out_stream.bit_rate = encoding.video_bitrate_bps()
    frames = _decoded_frames(container, stream, scan, rate)
    timed = (
        _constant_rate(frames, rate, scan.duration_s)
        if encoding.fps
        else _own_timing(frames, stream.time_base)
    )
    for frame in timed:
        ready = _for_encoder(frame, out_stream.width, out_stream.height)
        if overlay is not None:
            ready = overlay(ready, float(ready.pts * ready.time_base))
        yield from out_stream.encode(ready)
    yield from out_stream.encode(None)


def _decoded_frames(
    container: av.container.InputContainer, stream: av.VideoStream, scan: VideoScan, rate: Fraction
) -> Iterator[tuple[float, av.VideoFrame]]:
    """(seconds since the video's start, frame); frames without timestamps follow the previous."""
    start_s = float(scan.start_pts * scan.time_base)
    last_s = -1.0
    for frame in container.decode(stream):
        time_s = float(frame.pts * stream.time_base) - start_s if frame.pts is not None else last_s + 1 / rate
        if time_s <= last_s:
            time_s = last_s + 1e-6  # decoders sometimes repeat a timestamp: keep order
        if time_s >= scan.duration_s:
            break
        last_s = time_s
        yield time_s, frame


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
