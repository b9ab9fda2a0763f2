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
from collections.abc import Callable, Iterator
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
) -> None:
    """Write ``output_path`` (MP4, faststart): the video encoded once, the AAC track copied from
    ``audio_path``. (The fast path, video copied, is ``CopyingMp4Writer``.)

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
            video_packets = _encoded_packets(video_in, in_video, video, scan, encoding, out)
            in_audio = audio_in.streams.audio[0]
            audio_packets = _demuxed_packets(audio_in, in_audio, out.add_stream_from_template(in_audio))
            _write_interleaved(out, video_packets, audio_packets, scan.duration_s, checkpoint, on_progress)
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

    def __init__(self, *, video_path: Path, scan: VideoScan, output_path: Path) -> None:
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
) -> None:
    next_check_s = 0.0
    for time_s, _, packet in heapq.merge(_keyed(video_packets, 0), _keyed(audio_packets, 1)):
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
        yield from out_stream.encode(_for_encoder(frame, out_stream.width, out_stream.height))
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
