"""The per-job limits of ``render()``: refused from the files' headers, before speech is
synthesized or a frame decoded, with errors naming the asset and the limit's setting."""

from __future__ import annotations

import shutil
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from autovid.errors import AssetError, MediaError, SpeechError
from autovid.render.limits import RenderLimits
from autovid.render.media import check_limits
from tests.integration.render.conftest import Media, Renderer, audio_event, make_spec, tts_event


def test_a_declared_huge_frame_is_refused_within_a_second(
    media: Media, renderer: Renderer, huge_frame_video: Path
) -> None:
    shutil.copyfile(huge_frame_video, media.folder / "huge.mp4")
    started = time.monotonic()

    with pytest.raises(AssetError) as caught:
        renderer(make_spec("huge.mp4"))

    assert time.monotonic() - started < 1.0
    assert caught.value.asset_id == "video"
    assert (
        "16384x16000, over the limit of 8192x8192 (AUTOVID_MAX_FRAME_WIDTH, _HEIGHT)" in caught.value.reason
    )


def test_the_pixel_count_is_limited_apart_from_the_sides(huge_frame_video: Path) -> None:
    limits = RenderLimits(max_frame_width=20_000, max_frame_height=20_000)
    with pytest.raises(
        Exception, match=r"262144000 pixels, over the limit of 36000000 \(AUTOVID_MAX_FRAME_PIXELS\)"
    ):
        check_limits(huge_frame_video, limits)


def test_a_video_longer_than_the_limit_is_refused(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    with pytest.raises(AssetError) as caught:
        renderer(make_spec(video), limits=RenderLimits(max_duration_s=2.0))
    assert caught.value.asset_id == "video"
    assert "it lasts 3 s, over the limit of 2 s (AUTOVID_MAX_VIDEO_DURATION)" in caught.value.reason


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (
            RenderLimits(max_sample_rate=44_100),
            "sampled at 48000 Hz, over the limit of 44100 Hz (AUTOVID_MAX_SAMPLE_RATE)",
        ),
        (
            RenderLimits(max_channels=1),
            "its audio has 2 channels, over the limit of 1 (AUTOVID_MAX_CHANNELS)",
        ),
    ],
)
def test_audio_over_the_sample_rate_or_channel_limit_names_the_asset(
    media: Media, renderer: Renderer, limits: RenderLimits, says: str
) -> None:
    video = media.video("h264_2s.mp4", duration_s=2.0).name
    media.tone("stereo_1s.wav", 1.0, channels=2)
    spec = make_spec(video, audio={"blip": "stereo_1s.wav"}, timeline=[audio_event(0.5, "blip")])

    with pytest.raises(AssetError) as caught:
        renderer(spec, limits=limits)

    assert caught.value.asset_id == "blip" and says in caught.value.reason


def test_a_file_with_more_audio_streams_than_the_limit_is_refused(
    media: Media, renderer: Renderer, tmp_path: Path
) -> None:
    many = media.folder / "five_tracks.mkv"
    with av.open(str(many), "w") as container:
        streams = [container.add_stream("flac", rate=8000, layout="mono") for _ in range(5)]
        for stream in streams:
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    video = media.video("h264_2s.mp4", duration_s=2.0).name
    spec = make_spec(video, audio={"tracks": many.name}, timeline=[audio_event(0.5, "tracks")])

    with pytest.raises(AssetError) as caught:
        renderer(spec, limits=RenderLimits(max_streams=4))

    assert caught.value.asset_id == "tracks"
    assert "5 audio and subtitle streams, over the limit of 4 (AUTOVID_MAX_STREAMS)" in caught.value.reason


def test_too_much_speech_fails_before_a_word_is_synthesized(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_2s.mp4", duration_s=2.0).name
    spec = make_spec(video, timeline=[tts_event(0.1, "a" * 60), tts_event(1.0, "b" * 60)])

    with pytest.raises(SpeechError, match=r"120 characters together, over the limit of 100 per job"):
        renderer(spec, limits=RenderLimits(max_speech_chars=100))

    assert renderer.speech.calls == []


def _size_changing_video(path: Path, sizes: list[tuple[int, int]], frames_each: int = 15) -> Path:
    """An H.264 stream in Matroska whose frame size changes part-way through: each part from an
    encoder of its own, its SPS in the stream (the headers only show the first part's)."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = *sizes[0], "yuv420p"
        for part, (width, height) in enumerate(sizes):
            encoder = av.CodecContext.create("libx264", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            encoder.time_base, encoder.framerate = Fraction(1, 30), 30
            for index in range(frames_each + 1):
                frame = None
                if index < frames_each:
                    gray = np.full((height, width), 16 + 8 * index, np.uint8)
                    frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
                    frame.pts, frame.time_base = index, encoder.time_base
                for packet in encoder.encode(frame):
                    packet.pts += part * frames_each
                    packet.dts += part * frames_each
                    packet.time_base, packet.stream = encoder.time_base, stream
                    out.mux(packet)
    return path


def test_a_frame_size_change_over_the_limit_fails_the_decode(media: Media, renderer: Renderer) -> None:
    """The headers declare 64x64; the second part's SPS says 320x240 (76800 pixels). The
    decoder refuses those frames before it allocates them, and the error says why."""
    _size_changing_video(media.folder / "grows.mkv", [(64, 64), (320, 240)])
    limits = RenderLimits(max_frame_pixels=10_000)
    check_limits(media.folder / "grows.mkv", limits)  # what the headers show is within the limit
    with pytest.raises(
        MediaError, match=r"frames over 10000 pixels are refused \(AUTOVID_MAX_FRAME_PIXELS\)"
    ):
        renderer(make_spec("grows.mkv", encoding={"fps": 30}), limits=limits)
    assert not (renderer.tmp_path / "out" / "out.mp4").exists()


def test_a_frame_size_change_within_the_limit_renders_at_the_first_size(
    media: Media, renderer: Renderer
) -> None:
    _size_changing_video(media.folder / "grows.mkv", [(64, 64), (320, 240)])
    result = renderer(make_spec("grows.mkv", encoding={"fps": 30}))
    with av.open(str(result.output_path)) as container:
        frames = [(f.width, f.height) for f in container.decode(video=0)]
    assert len(frames) == 30 and set(frames) == {(64, 64)}
