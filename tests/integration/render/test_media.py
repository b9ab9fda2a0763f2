"""Probing, scanning and streaming decode on generated files."""

from __future__ import annotations

import threading
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import autovid.render.media as media_module
from autovid.errors import MediaError
from autovid.render.media import (
    AudioReader,
    DecodedAudio,
    audio_packet_duration_s,
    audio_sample_count,
    probe,
    scan_video,
)
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


def test_our_own_wav_is_read_as_any_wav_is(media: Media) -> None:
    path = media.tone("speech_like_22k.wav", 0.7, channels=1, sample_rate=22_050)

    def decoded(ours: bool) -> np.ndarray:
        with AudioReader(path, ours=ours) as reader:
            return reader.read_some(2 * SR)

    plain, own = decoded(ours=False), decoded(ours=True)
    assert own.shape == plain.shape and abs(own.shape[1] - int(0.7 * SR)) < 64
    assert np.array_equal(own, plain)
    assert audio_sample_count(path, ours=True) == audio_sample_count(path) == plain.shape[1]


def pcm_wav(path: Path, sample_rate: int, channels: int, frames: int) -> Path:
    """A 16-bit PCM WAV of noise, as the speech engines' files are."""
    noise = np.random.default_rng(frames).standard_normal(frames * channels) * 3000
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(noise.astype("<i2").tobytes())
    return path


@pytest.mark.parametrize(
    ("sample_rate", "channels", "frames"),
    [
        (16_000, 1, 1024),
        (22_050, 1, 3 * 22_050 + 1),
        (24_000, 2, 4097),
        (44_100, 2, 9_999),
        (48_000, 1, 5_000),
    ],
)
def test_our_own_wav_is_measured_from_its_header_as_a_decode_measures_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_rate: int, channels: int, frames: int
) -> None:
    path = pcm_wav(tmp_path / "speech.wav", sample_rate, channels, frames)
    decoded = audio_sample_count(path)  # a user's WAV: decoded and resampled to the end

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the header alone says how long it is")

    monkeypatch.setattr(media_module, "AudioReader", no_decoding)
    assert audio_sample_count(path, ours=True) == decoded


def test_a_wav_header_that_does_not_hold_is_not_trusted(tmp_path: Path) -> None:
    truncated = pcm_wav(tmp_path / "truncated.wav", 22_050, 1, 22_050)
    truncated.write_bytes(truncated.read_bytes()[: 44 + 22_050])  # the header still says 22 050 frames
    short = pcm_wav(tmp_path / "short.wav", 22_050, 1, 30)  # within the resampler's filter length
    for path in (truncated, short):
        assert audio_sample_count(path, ours=True) == audio_sample_count(path)
    assert audio_sample_count(truncated, ours=True) == -(-(22_050 // 2) * SR // 22_050)


def test_reader_of_a_file_without_audio_fails(media: Media) -> None:
    with pytest.raises(MediaError, match="no audio stream"):
        AudioReader(media.video("no_audio.mp4", duration_s=1.5))


def vbr_mp3_without_header(path: Path, seconds: float) -> Path:
    """A VBR MP3 without a Xing header: quiet first (cheap frames), then loud: FFmpeg guesses
    its length from the first frames' bit rate, and guesses wrong."""
    rng = np.random.default_rng(5)
    n = round(seconds * SR)
    signal = rng.standard_normal((2, n)).astype(np.float32) * 0.2
    signal[:, : n // 4] *= 0.001
    with av.open(str(path), "w", options={"write_xing": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=44_100, layout="stereo")
        stream.codec_context.qscale = 2
        stream.codec_context.flags |= 2  # AV_CODEC_FLAG_QSCALE: variable bit rate
        frame = av.AudioFrame.from_ndarray(signal, "fltp", "stereo")
        frame.sample_rate, frame.pts = SR, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_packet_durations_beat_header_guesses(tmp_path: Path) -> None:
    path = vbr_mp3_without_header(tmp_path / "vbr.mp3", 6.0)
    guessed = probe(path).audio
    assert guessed is not None and guessed.duration_s is not None
    assert abs(guessed.duration_s - 6.0) > 0.2  # the header guess is off (the reason for this)
    from_packets = audio_packet_duration_s(path)
    assert from_packets == pytest.approx(audio_sample_count(path) / SR, abs=0.03)
    assert from_packets == pytest.approx(6.0, abs=0.06)


def test_decoded_audio_serves_several_plays_from_one_decode(media: Media) -> None:
    path = media.tone("shared_44k.wav", 1.5, sample_rate=44_100)
    with AudioReader(path) as reader:
        streamed = reader.read(audio_sample_count(path) + 500)  # silence past the end
    shared = DecodedAudio(path, plays=2, expected_samples=1000, sample_rate=SR)  # length underestimated
    first, second = shared.reader(), shared.reader()
    second.skip(20_000)
    head = first.read(30_000)  # decoding ahead for the first play...
    tail = second.read(streamed.shape[1] - 20_000)  # ...serves the second from memory
    rest = first.read(streamed.shape[1] - 30_000)
    np.testing.assert_array_equal(np.concatenate([head, rest], axis=1), streamed)
    np.testing.assert_array_equal(tail, streamed[:, 20_000:])
    first.close()
    assert shared.read(0, 10).shape[1] == 10  # still open: a play is left
    second.close()
    assert shared._samples.size == 0  # the last play closed: memory and file released
    with pytest.raises(MediaError, match="after close"):
        second.read(10)


def test_decoded_audio_decodes_ahead_while_a_play_reads(media: Media) -> None:
    """A thread decodes the source while the play reads it: the play gets the same samples as
    a streaming read, whether the decoder is ahead of it or behind, and the thread stops once the
    plays are done."""
    path = media.music("ahead.mp3", 6.0)
    with AudioReader(path) as reader:
        streamed = reader.read(audio_sample_count(path))
    shared = DecodedAudio(path, plays=1, expected_samples=SR, sample_rate=SR)  # length underestimated
    play = shared.reader()
    ahead = threading.Thread(target=shared.decode_ahead, args=(streamed.shape[1],))
    ahead.start()
    parts = [play.read(size) for size in (700, 48_000, 3, 60_000)]
    ahead.join()
    parts.append(play.read(streamed.shape[1] - sum(p.shape[1] for p in parts)))
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), streamed)
    play.close()
    shared.decode_ahead(streamed.shape[1] + SR)  # released: returns at once, decodes nothing
    assert shared._samples.size == 0
