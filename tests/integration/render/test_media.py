"""Probing, scanning and streaming decode on generated files."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from autovid.errors import MediaError
from autovid.render.media import AudioReader, audio_sample_count, probe, scan_video
from tests.integration.render.conftest import SR, Media


def test_probe_describes_video_and_audio(media: Media) -> None:
    info = probe(media.video("h264_tone.mp4", duration_s=2.0, audio=True))
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 160, 120)
    assert info.video.frame_rate == 30 and info.video.avcc
    assert info.video.duration_s == pytest.approx(2.0)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", SR, 2)


def test_probe_of_audio_only_and_annex_b_video(media: Media) -> None:
    assert probe(media.tone("tone_1s.wav", 1.0)).video is None
    annex_b = probe(media.video("h264.avi", duration_s=1.5, audio=True))
    assert annex_b.video is not None and annex_b.video.codec == "h264" and not annex_b.video.avcc


def test_probe_refuses_what_ffmpeg_cannot_read(media: Media) -> None:
    junk = media.folder / "junk.bin"
    junk.write_bytes(b"not media at all" * 100)
    with pytest.raises(MediaError, match="unsupported format"):
        probe(junk)  # FFmpeg would show this text as a video ("bintext")
    (media.folder / "junk.mp4").write_bytes(b"not media at all" * 100)
    with pytest.raises(MediaError, match="not a readable"):
        probe(media.folder / "junk.mp4")
    with pytest.raises(MediaError):
        probe(media.folder / "does-not-exist.mp4")


def test_scan_measures_duration_and_allows_copy(media: Media) -> None:
    scan = scan_video(media.video("h264_2s.mp4", duration_s=2.0))
    assert scan.duration_s == pytest.approx(2.0) and scan.packet_count == 60
    assert scan.copy_problem is None and scan.rebuilt_dts is None and scan.start_pts == 0


def test_scan_rebuilds_decode_timestamps_matroska_leaves_out(media: Media) -> None:
    scan = scan_video(
        media.video("h264_bframes.mkv", duration_s=1.5, codec="h264", bframes=2, preset="medium")
    )
    assert scan.copy_problem is None and scan.rebuilt_dts is not None
    dts = np.array(scan.rebuilt_dts)
    assert np.all(np.diff(dts) > 0)
    assert scan.time_base == Fraction(1, 1000)


def test_reader_streams_at_48k_in_requested_blocks(media: Media) -> None:
    path = media.tone("tone_44k_1s.mp3", 1.0, sample_rate=44_100)
    with AudioReader(path) as reader:
        assert reader.channels == 2
        first = reader.read(1000)
        assert first.shape == (2, 1000) and first.dtype == np.float32
        total = 1000 + reader.count_remaining()
    assert abs(total - SR) < 2 * 1152  # the decoder's own padding at most
    assert audio_sample_count(path) == total


def test_reader_keeps_mono_as_one_channel_and_pads_after_the_end(media: Media) -> None:
    path = media.tone("mono_0.1s.wav", 0.1, channels=1)
    with AudioReader(path) as reader:
        block = reader.read(SR)
        assert block.shape == (1, SR)
        assert np.abs(block[:, : int(0.09 * SR)]).max() > 0.4 and not block[:, int(0.11 * SR) :].any()
        assert reader.exhausted
        assert not reader.read(10).any()


def test_reader_of_a_file_without_audio_fails(media: Media) -> None:
    with pytest.raises(MediaError, match="no audio stream"):
        AudioReader(media.video("no_audio.mp4", duration_s=1.5))
