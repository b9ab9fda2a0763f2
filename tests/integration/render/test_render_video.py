"""The MP4 side: packet copy on the fast path, one libx264 encode otherwise, every container and
codec family, durations, faststart and interleaving."""

from __future__ import annotations

import itertools
import struct
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from autovid import samples
from autovid.errors import SpeechError
from autovid.ports import SpeechRequest
from autovid.render.aac import write_aac_track
from autovid.render.media import VideoScan, scan_video
from autovid.render.mux import CopyingMp4Writer, TextTrack, add_aac_stream, add_text_stream, text_packets
from tests.integration.render.conftest import (
    SR,
    FakeSynthesizer,
    Media,
    Renderer,
    audio_event,
    decode_audio,
    frame_s,
    make_spec,
    rms_db,
    span,
    stream_durations_s,
    tts_event,
    video_duration_s,
    video_packets,
)


def describe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        return {
            "format": container.format.name,
            "video_codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "size": (video.codec_context.width, video.codec_context.height),
            "rate": video.average_rate,
            "audio_codec": audio.codec_context.name,
            "audio_rate": audio.rate,
            "channels": audio.channels,
            "audio_bit_rate": audio.bit_rate,
        }


def assert_same_length(output: Path, source: Path) -> None:
    """Video and audio both last as long as the source video, within one frame."""
    expected = video_duration_s(source)
    frame = frame_s(source)
    durations = stream_durations_s(output)
    assert video_duration_s(output) == pytest.approx(expected, abs=frame)
    # the MP4 edit list stores durations in milliseconds
    assert durations["audio"] == pytest.approx(expected, abs=0.001 + 1 / SR)
    assert durations["video"] == pytest.approx(expected, abs=frame)


def top_level_boxes(path: Path) -> list[bytes]:
    boxes, offset = [], 0
    data = path.read_bytes()
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind)
        offset += size if size else len(data)
    return boxes


def test_fast_path_copies_every_video_packet_unchanged(media: Media, renderer: Renderer) -> None:
    source = media.video("bframes.mp4", duration_s=2.0, preset="medium", bframes=2, audio=True)
    media.effect("blip.wav", "blip")
    spec = make_spec(source.name, audio={"blip": "blip.wav"}, timeline=[audio_event(0.5, "blip")])
    result = renderer(spec)
    assert result.video_copied
    copied, original = video_packets(result.output_path), video_packets(source)
    assert len(copied) == len(original) == 60
    assert copied == original  # bytes, pts and keyframe flags
    assert_same_length(result.output_path, source)
    info = describe(result.output_path)
    assert (info["video_codec"], info["audio_codec"], info["audio_rate"], info["channels"]) == (
        "h264",
        "aac",
        SR,
        2,
    )


@pytest.mark.parametrize(
    ("name", "options", "copied"),
    [
        ("h264.mp4", {"codec": "h264"}, True),
        ("h264.mov", {"codec": "h264"}, True),
        ("h264.mkv", {"codec": "h264"}, True),
        ("h264_bframes.mkv", {"codec": "h264", "bframes": 2, "preset": "medium"}, True),  # no dts stored
        ("h264.avi", {"codec": "h264"}, False),  # Annex B, no avcC: encoded
        ("mpeg4.avi", {"codec": "mpeg4"}, False),
        ("mpeg4.mp4", {"codec": "mpeg4"}, False),
        ("mpeg4.mkv", {"codec": "mpeg4"}, False),
        ("mjpeg.mov", {"codec": "mjpeg"}, False),
    ],
)
def test_every_container_and_codec_family(
    media: Media, renderer: Renderer, name: str, options: dict[str, Any], copied: bool
) -> None:
    source = media.video(name, duration_s=1.5, audio=True, **options)
    media.effect("blip.wav", "blip")
    result = renderer(make_spec(source.name, audio={"blip": "blip.wav"}, timeline=[audio_event(0.5, "blip")]))
    assert result.video_copied is copied
    info = describe(result.output_path)
    assert info["format"].startswith("mov,mp4")
    assert (info["video_codec"], info["audio_codec"], info["size"]) == ("h264", "aac", (160, 120))
    assert info["pix_fmt"] == "yuv420p"
    assert_same_length(result.output_path, source)
    if copied:
        assert [p[0] for p in video_packets(result.output_path)] == [p[0] for p in video_packets(source)]
    out = decode_audio(result.output_path)
    assert rms_db(span(out, 0.5, 0.6)) > -20 and rms_db(span(out, 0.0, 0.4)) < -70  # the mix, not the tone


def test_bitrate_forces_one_libx264_encode(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    media.noise("noise_1s.wav", 1.0, amplitude=0.5, seed=3)
    spec = make_spec(
        source.name,
        audio={"music": "noise_1s.wav"},
        music={"playlist": ["music"], "volume": 1.0},
        encoding={"bitrate": "300k", "audio_bitrate": "96k"},
    )
    result = renderer(spec)
    assert not result.video_copied
    with av.open(str(result.output_path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and video.frames == 60
        assert 70_000 < audio.bit_rate <= 110_000  # audio_bitrate honoured (default 192k)
        assert video.bit_rate < 600_000
    assert video_packets(result.output_path) != video_packets(source)
    assert_same_length(result.output_path, source)


def test_libx264_runs_frame_threads_as_the_ffmpeg_cli_does(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    result = renderer(make_spec(source.name, encoding={"bitrate": "300k"}))
    with av.open(str(result.output_path)) as container:
        first = bytes(next(container.demux(container.streams.video[0])))
    # libx264 writes its settings into the first frame's SEI; sliced threads are PyAV's default
    settings = first[first.index(b"x264 - core") :].split(b"\x00")[0].decode("ascii", "replace")
    assert "sliced_threads=0" in settings, settings


def video_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "video"]  # the writer's decoder and encoder


class SpeechAfterTheVideo(FakeSynthesizer):
    """Speaks (or fails) only once the video's decoder and encoder threads run, or after
    ``wait_s``; records whether they had started by then."""

    def __init__(self, folder: Path, *, fail: bool = False, wait_s: float = 10.0) -> None:
        super().__init__(folder)
        self.fail, self.wait_s = fail, wait_s
        self.video_started: list[bool] = []

    def synthesize(self, request: SpeechRequest) -> Path:
        deadline = time.monotonic() + self.wait_s
        while not video_threads() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.video_started.append(bool(video_threads()))
        if self.fail:
            raise SpeechError("the voice refused the text")
        return super().synthesize(request)


def test_the_video_is_encoded_while_the_speech_is_synthesized(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    renderer.speech = SpeechAfterTheVideo(renderer.tmp_path)
    spec = make_spec(source.name, timeline=[tts_event(0.5, "Hello.")], encoding={"bitrate": "300k"})
    result = renderer(spec)
    assert renderer.speech.video_started == [True]
    assert not result.video_copied
    assert rms_db(span(decode_audio(result.output_path), 0.6, 1.0)) > -40  # the speech is in the mix
    assert_same_length(result.output_path, source)


def test_a_speech_failure_stops_the_video_already_being_encoded(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    renderer.speech = SpeechAfterTheVideo(renderer.tmp_path, fail=True)
    spec = make_spec(source.name, timeline=[tts_event(0.5, "Hello.")], encoding={"bitrate": "300k"})
    with pytest.raises(SpeechError, match="refused"):
        renderer(spec)
    assert renderer.speech.video_started == [True]
    assert video_threads() == []
    out = renderer.tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []  # neither the output nor its partial file


def test_fps_change_resamples_the_frame_rate(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    result = renderer(make_spec(source.name, encoding={"fps": 15}))
    assert not result.video_copied
    with av.open(str(result.output_path)) as container:
        video = container.streams.video[0]
        assert video.average_rate == 15
        frames = sum(1 for _ in container.decode(video))
    assert frames == 30
    assert video_duration_s(result.output_path) == pytest.approx(2.0, abs=1 / 15)
    assert stream_durations_s(result.output_path)["audio"] == pytest.approx(2.0, abs=1 / SR)


def test_video_without_an_audio_track(media: Media, renderer: Renderer) -> None:
    source = media.video("no_audio.mp4", duration_s=1.5, audio=False)
    media.effect("blip.wav", "blip")
    spec = make_spec(
        source.name, video_volume=0.8, audio={"blip": "blip.wav"}, timeline=[audio_event(0.5, "blip")]
    )
    result = renderer(spec)
    assert result.video_copied
    assert_same_length(result.output_path, source)
    assert rms_db(span(decode_audio(result.output_path), 0.5, 0.6)) > -20


def test_output_is_faststart_and_interleaved(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_4s.mp4", duration_s=4.0)
    media.music("loop_2s.mp3", 2.0)
    result = renderer(make_spec(source.name, audio={"music": "loop_2s.mp3"}, music={"playlist": ["music"]}))
    boxes = top_level_boxes(result.output_path)
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # index first: playable while downloading
    with av.open(str(result.output_path)) as container:
        placed = sorted((p.pos, p.stream.type) for p in container.demux() if p.size)
    switches = sum(1 for (_, a), (_, b) in itertools.pairwise(placed) if a != b)
    assert switches >= 6  # chunks of audio and video alternate through the file


def test_result_describes_the_output(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    result = renderer(make_spec(source.name))
    assert result.output_path.is_file()
    assert result.size_bytes == result.output_path.stat().st_size
    assert result.duration_s == pytest.approx(2.0)
    assert set(result.timings_s) == {"fetching", "speech", "mixing", "encoding", "total"}
    assert all(t >= 0 for t in result.timings_s.values())
    assert not list(result.output_path.parent.glob("*.partial"))


def shifted_copy(source: Path, path: Path, offset_s: float) -> Path:
    """``source`` remuxed with every timestamp ``offset_s`` later (as cut recordings often are)."""
    with av.open(str(source)) as src, av.open(str(path), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.size:
                offset = round(offset_s / packet.time_base)
                packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    return path


def test_timestamps_that_do_not_start_at_zero_are_shifted_to_zero(media: Media, renderer: Renderer) -> None:
    base = media.video("tone_1500ms.mkv", duration_s=1.5, audio=440.0, audio_amplitude=0.4)
    late = shifted_copy(base, media.folder / "starts_at_1s.mkv", 1.0)
    result = renderer(make_spec(late.name, video_volume=1.0))
    assert result.video_copied
    copied = video_packets(result.output_path)
    assert copied[0][1] == 0 and [p[0] for p in copied] == [p[0] for p in video_packets(late)]
    assert result.duration_s == pytest.approx(video_duration_s(base), abs=1e-3)
    out = decode_audio(result.output_path)
    assert rms_db(span(out, 0.02, 0.5)) == pytest.approx(rms_db(span(decode_audio(base), 0.02, 0.5)), abs=0.5)


def test_odd_frame_sizes_are_encoded_at_even_sizes(media: Media, renderer: Renderer) -> None:
    source = media.video("odd.mp4", duration_s=1.0, width=161, height=121, codec="mpeg4")
    result = renderer(make_spec(source.name))
    info = describe(result.output_path)
    assert (info["video_codec"], info["size"], info["pix_fmt"]) == ("h264", (160, 120), "yuv420p")


def test_rendering_twice_gives_identical_files(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_2s.mp4", duration_s=2.0)
    media.music("loop_2s.mp3", 2.0)
    spec = make_spec(source.name, audio={"music": "loop_2s.mp3"}, music={"playlist": ["music"]})
    first = renderer(spec).output_path.read_bytes()
    second = renderer(spec).output_path.read_bytes()
    assert first == second


class _RecordedAac:
    """An ``AacSink`` that keeps each segment's packets as plain values, to be muxed twice."""

    def __init__(self) -> None:
        self.segments: list[list[tuple[bytes, int, int, int, bool]]] = []
        self.stream_args: tuple[int, int] = (0, 0)

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None:
        self.stream_args = (sample_rate, bitrate_bps)

    def write_aac(self, packets: list[av.Packet]) -> None:
        self.segments.append([(bytes(p), p.pts, p.dts, p.duration, p.is_keyframe) for p in packets])

    def packets(self) -> list[list[av.Packet]]:
        made = []
        for segment in self.segments:
            made.append([])
            for data, pts, dts, duration, key in segment:
                packet = av.Packet(data)
                packet.pts, packet.dts, packet.duration = pts, dts, duration
                packet.time_base, packet.is_keyframe = Fraction(1, self.stream_args[0]), key
                made[-1].append(packet)
        return made


def _decode_time_order(
    source: Path, scan: VideoScan, aac: _RecordedAac, track: TextTrack, path: Path
) -> None:
    """The MP4 of the same packets as the fast path's, muxed one at a time sorted by exact decode
    time, a video packet before a cue before an AAC packet at the same time."""
    with av.open(str(source)) as video_in, av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        in_video = video_in.streams.video[0]
        video = out.add_stream_from_template(in_video)
        texts = list(text_packets(track, add_text_stream(out, track.language)))
        audio = add_aac_stream(out, *aac.stream_args)
        timed = []
        for packet in (p for p in video_in.demux(in_video) if p.size):
            packet.pts, packet.dts, packet.stream = (
                packet.pts - scan.start_pts,
                packet.dts - scan.start_pts,
                video,
            )
            timed.append((packet.dts * packet.time_base, 0, len(timed), packet))
        timed += [(p.dts * p.time_base, 1, len(timed) + i, p) for i, p in enumerate(texts)]
        for packet in itertools.chain.from_iterable(aac.packets()):
            packet.stream = audio
            timed.append((packet.dts * packet.time_base, 2, len(timed), packet))
        for *_, packet in sorted(timed, key=lambda item: item[:3]):
            out.mux(packet)


def test_fast_path_writes_the_packets_in_decode_time_order(media: Media, tmp_path: Path) -> None:
    """The fast path's MP4 is byte for byte the one of its packets muxed one at a time in decode
    time order (video, cue, AAC at equal times — where a video frame, an AAC frame and a cue start
    together, 1.6 s, the muxer itself orders them by exact time): its merge of video, cues and
    each segment's AAC puts every packet where that order does. B-frames make decode times differ
    from presentation times. The video is longer than the 10 s the muxer would hold packets to
    interleave them itself, so a writer that feeds them out of order writes another file."""
    source = media.video("bframes_12s.mp4", duration_s=12.0, width=64, height=48, bframes=2)
    scan = scan_video(source)
    track = TextTrack("eng", [(0.0, 0.4, "first"), (1.6, 2.0, "on a frame"), (11.0, 11.9, "last")])
    aac = _RecordedAac()
    tone = samples.tone(12.0, sample_rate=SR)
    write_aac_track([tone], aac, sample_rate=SR, segment_samples=1024 * 100)
    assert len(aac.segments) > 2  # several segments, each muxed when it arrives
    with CopyingMp4Writer(
        video_path=source, scan=scan, output_path=tmp_path / "fast.mp4", text_track=track
    ) as w:
        w.add_aac_stream(*aac.stream_args)
        for segment in aac.packets():
            w.write_aac(segment)
        w.finish()
    _decode_time_order(source, scan, aac, track, tmp_path / "sorted.mp4")
    assert (tmp_path / "fast.mp4").read_bytes() == (tmp_path / "sorted.mp4").read_bytes()
    with av.open(str(tmp_path / "fast.mp4")) as container:
        kinds = [p.stream.type for p in sorted(container.demux(), key=lambda p: p.pos or 0) if p.size]
    assert {"video", "audio", "subtitle"} <= set(kinds)
