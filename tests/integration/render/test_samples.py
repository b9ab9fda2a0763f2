"""The sample-media generators write what they promise, deterministically."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from autovid import samples
from tests.integration.render.conftest import SR, decode_audio, rms_db


@pytest.mark.parametrize(
    ("name", "codec", "audio_codec"),
    [
        ("v.mp4", "h264", "aac"),
        ("v.mov", "h264", "aac"),
        ("v.mkv", "mpeg4", "aac"),
        ("v.avi", "mpeg4", "mp3float"),
    ],
)
def test_make_video_follows_extension_and_codec(
    tmp_path: Path, name: str, codec: str, audio_codec: str
) -> None:
    path = samples.make_video(
        tmp_path / name, duration_s=1.0, width=96, height=64, fps=25, codec=codec, audio=True
    )
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == codec and (video.width, video.height) == (96, 64)
        assert audio.codec_context.name == audio_codec
        frames = list(container.decode(video))
    assert 25 <= len(frames) <= 26
    first, second = frames[0].to_ndarray(), frames[1].to_ndarray()
    assert not np.array_equal(first, second)  # the pattern moves


def test_make_video_without_audio(tmp_path: Path) -> None:
    with av.open(str(samples.make_video(tmp_path / "v.mp4", duration_s=0.5))) as container:
        assert not container.streams.audio and container.streams.video[0].frames == 15


@pytest.mark.parametrize("extension", ["wav", "mp3", "m4a", "flac"])
def test_music_loop_formats(tmp_path: Path, extension: str) -> None:
    path = samples.make_music_loop(tmp_path / f"loop.{extension}", 2.0)
    decoded = decode_audio(path)
    assert decoded.shape[0] == 2 and abs(decoded.shape[1] - 2 * SR) <= 2 * 1152
    assert -30 < rms_db(decoded) < -6 and np.abs(decoded).max() < 0.9


def test_music_loop_is_musical_and_seamless() -> None:
    loop = samples.music_loop(4.0)
    spectrum = np.abs(np.fft.rfft(loop[0]))
    freqs = np.fft.rfftfreq(loop.shape[1], 1 / SR)
    assert spectrum[(freqs > 250) & (freqs < 270)].max() > 10 * np.median(spectrum)  # C4 of the first chord
    assert np.abs(loop[:, 0] - loop[:, -1]).max() < 0.2  # the wrap-around is not a jump


def test_generators_are_deterministic(tmp_path: Path) -> None:
    a = samples.make_effect(tmp_path / "a.wav", "impact").read_bytes()
    b = samples.make_effect(tmp_path / "b.wav", "impact").read_bytes()
    assert a == b
    assert np.array_equal(samples.music_loop(1.0, seed=3), samples.music_loop(1.0, seed=3))


@pytest.mark.parametrize("kind", ["whoosh", "blip", "impact", "click"])
def test_effects_are_short_and_audible(kind: samples.EffectKind) -> None:
    sound = samples.effect(kind)
    assert sound.shape[0] == 2 and 0.02 < sound.shape[1] / SR < 1.5
    assert 0.5 < np.abs(sound).max() <= 1.0


def test_tone_and_noise_levels(tmp_path: Path) -> None:
    tone = decode_audio(samples.make_tone(tmp_path / "t.wav", 1.0, freq_hz=1000, amplitude=0.5))
    noise = decode_audio(samples.make_noise(tmp_path / "n.wav", 1.0, amplitude=0.5))
    assert rms_db(tone) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    assert rms_db(noise) == pytest.approx(20 * np.log10(0.25), abs=0.2)


def test_unsupported_extensions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        samples.make_tone(tmp_path / "t.ogg", 1.0)
    with pytest.raises(ValueError, match="unsupported"):
        samples.make_video(tmp_path / "v.webm")
