"""render() as a whole: progress and checkpoints, cancellation, and bad inputs failing with errors
that name the asset."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from autovid import samples
from autovid.errors import AssetError, JobCancelledError, SpeechError
from autovid.ports import SpeechRequest
from tests.integration.render.conftest import (
    FakeSynthesizer,
    Media,
    Renderer,
    audio_event,
    make_spec,
    tts_event,
)

STAGES = ("fetching", "speech", "mixing", "encoding")


def test_progress_goes_through_the_stages_in_order_and_never_back(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    media.music("loop_2s.mp3", 2.0)
    spec = make_spec(
        video,
        audio={"music": "loop_2s.mp3"},
        music={"playlist": ["music"]},
        timeline=[tts_event(0.5, "Progress.", duckingLevel=0.3)],
    )
    checkpoints = 0

    def checkpoint() -> None:
        nonlocal checkpoints
        checkpoints += 1

    renderer(spec, checkpoint=checkpoint)
    stages = [stage for stage, _ in renderer.progress]
    percents = [percent for _, percent in renderer.progress]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == list(STAGES)
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100
    assert len(renderer.progress) >= 8
    assert checkpoints >= 5  # 3 s of audio is 5 blocks, plus the muxing steps


def test_checkpoint_can_cancel_the_render_and_nothing_is_left_behind(
    media: Media, renderer: Renderer
) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    calls = 0

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise JobCancelledError("job cancelled")

    with pytest.raises(JobCancelledError):
        renderer(make_spec(video), checkpoint=checkpoint)
    out_dir = renderer.tmp_path / "out"
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_cancel_while_muxing_leaves_no_partial_file(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    calls = 0

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if renderer.progress and renderer.progress[-1][0] == "encoding":
            raise JobCancelledError("job cancelled")

    with pytest.raises(JobCancelledError):
        renderer(make_spec(video), checkpoint=checkpoint)
    assert not any((renderer.tmp_path / "out").iterdir())


def write_random(path: Path, size: int = 20_000) -> Path:
    path.write_bytes(np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def truncated(source: Path, path: Path, fraction: float) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def faststart_copy(source: Path, path: Path) -> Path:
    with av.open(str(source)) as src, av.open(str(path), "w", options={"movflags": "+faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    return path


def test_random_bytes_as_the_video_fail_naming_the_asset(media: Media, renderer: Renderer) -> None:
    write_random(media.folder / "random.mp4")
    with pytest.raises(AssetError) as caught:
        renderer(make_spec("random.mp4"))
    assert caught.value.asset_id == "video"
    assert "not a readable audio or video file" in caught.value.message


def test_truncated_mp4_fails_naming_the_asset(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_3s.mp4", duration_s=3.0)
    truncated(source, media.folder / "truncated.mp4", 0.6)  # the index (moov) is at the end: lost
    with pytest.raises(AssetError) as caught:
        renderer(make_spec("truncated.mp4"))
    assert caught.value.asset_id == "video"


def test_truncated_faststart_mp4_fails_naming_the_asset(media: Media, renderer: Renderer) -> None:
    source = media.video("h264_3s.mp4", duration_s=3.0)
    faststart = faststart_copy(source, media.folder / "faststart.mp4")
    truncated(faststart, media.folder / "faststart_truncated.mp4", 0.5)  # index intact, data cut
    with pytest.raises(AssetError) as caught:
        renderer(make_spec("faststart_truncated.mp4"))
    assert caught.value.asset_id == "video" and "truncated" in caught.value.reason


def test_audio_asset_without_audio_fails_naming_it(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    spec = make_spec(video, audio={"music": video}, music={"playlist": ["music"]})
    with pytest.raises(AssetError) as caught:
        renderer(spec)
    assert caught.value.asset_id == "music" and "no audio stream" in caught.value.reason


def test_video_asset_without_video_fails_naming_it(media: Media, renderer: Renderer) -> None:
    media.tone("tone_1s.wav", 1.0)
    with pytest.raises(AssetError) as caught:
        renderer(make_spec("tone_1s.wav"))
    assert caught.value.asset_id == "video" and "no video stream" in caught.value.reason


def test_mp3_with_cover_art_is_not_a_video(media: Media, renderer: Renderer) -> None:
    # Cover art is an 'attached picture' stream; it must not pass for the base video.
    cover = media.folder / "with_cover.mp3"
    with av.open(str(cover), "w") as container:
        audio = container.add_stream("libmp3lame", rate=48_000, layout="stereo")
        picture = container.add_stream("mjpeg", rate=1)
        picture.width, picture.height, picture.pix_fmt = 16, 16, "yuvj420p"
        picture.disposition = av.stream.Disposition.attached_pic
        frame = av.VideoFrame(16, 16, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        container.mux(picture.encode(frame))
        container.mux(picture.encode(None))
        tone = samples.tone(1.0)
        container.mux(audio.encode(samples._audio_frame(tone, "stereo", 48_000, 0)))
        container.mux(audio.encode(None))
    with pytest.raises(AssetError) as caught:
        renderer(make_spec("with_cover.mp3"))
    assert caught.value.asset_id == "video" and "no video stream" in caught.value.reason


def test_random_bytes_as_an_effect_fail_naming_it(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    write_random(media.folder / "noise.mp3")
    spec = make_spec(video, audio={"boom": "noise.mp3"}, timeline=[audio_event(0.5, "boom")])
    with pytest.raises(AssetError) as caught:
        renderer(spec)
    assert caught.value.asset_id == "boom"


def test_unreadable_speech_is_a_speech_error(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name

    class BrokenSynthesizer(FakeSynthesizer):
        def synthesize(self, request: SpeechRequest) -> Path:
            return write_random(self.folder / "broken.wav")

    renderer.speech = BrokenSynthesizer(renderer.tmp_path)
    with pytest.raises(SpeechError) as caught:
        renderer(make_spec(video, timeline=[tts_event(0.5, "Broken.")]))
    assert "timeline[0]" in caught.value.message


def test_speech_failure_propagates(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name

    class RefusingSynthesizer(FakeSynthesizer):
        def synthesize(self, request: SpeechRequest) -> Path:
            raise SpeechError(f"voice '{request.voice_id}' refused the text")

    renderer.speech = RefusingSynthesizer(renderer.tmp_path)
    with pytest.raises(SpeechError, match="refused"):
        renderer(make_spec(video, timeline=[tts_event(0.5, "No.")]))


def test_only_the_assets_the_render_uses_are_fetched(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    media.effect("blip.wav", "blip")
    spec = make_spec(
        video, audio={"blip": "blip.wav", "unused": "missing.wav"}, timeline=[audio_event(1, "blip")]
    )
    renderer(spec)
    assert renderer.assets.requested == ["video", "blip"]


def with_garbled_audio(source: Path, path: Path) -> Path:
    """``source`` with every audio packet's payload replaced by noise (the video untouched)."""
    rng = np.random.default_rng(3)
    with av.open(str(source)) as src, av.open(str(path), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if not packet.size:
                continue
            if packet.stream.type == "audio":
                garbled = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                garbled.pts, garbled.dts, garbled.time_base = packet.pts, packet.dts, packet.time_base
                packet = garbled
                packet.stream = streams[1]
            else:
                packet.stream = streams[0]
            dst.mux(packet)
    return path


def test_video_with_a_garbled_sound_track_still_serves_as_the_picture(
    media: Media, renderer: Renderer
) -> None:
    source = media.video("h264_tone_2s.mp4", duration_s=2.0, audio=True)
    garbled = with_garbled_audio(source, media.folder / "garbled_audio.mp4")
    result = renderer(make_spec(garbled.name, video_volume=0.0))
    assert result.video_copied and result.duration_s == pytest.approx(2.0)
    spec = make_spec(source.name, audio={"music": garbled.name}, music={"playlist": ["music"]})
    with pytest.raises(AssetError) as caught:
        renderer(spec)
    assert caught.value.asset_id == "music" and "cannot be decoded" in caught.value.reason
