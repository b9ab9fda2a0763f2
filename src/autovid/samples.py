"""Deterministic sample media made with PyAV: test-pattern videos, music loops, tones, effects.

Tests, ``examples/``, the demo and the benchmarks use these instead of downloaded files. Every
generator is a pure function of its arguments (noise comes from a seeded generator), so the same
call writes the same samples. Containers and codecs follow the file extension:

- video: ``.mp4`` / ``.mov`` / ``.mkv`` / ``.avi`` with ``codec`` ``"h264"`` (libx264), ``"mpeg4"``,
  ``"mjpeg"``, ``"hevc"``, ``"vp9"`` …; audio AAC (MP3 in AVI).
- audio: ``.wav`` (16-bit PCM), ``.mp3``, ``.m4a`` (AAC), ``.flac``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

SAMPLE_RATE = 48_000

VIDEO_ENCODERS = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "mpeg4": "mpeg4",
    "mjpeg": "mjpeg",
    "mpeg2video": "mpeg2video",
}
AUDIO_ENCODERS = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".m4a": "aac", ".flac": "flac"}
VIDEO_AUDIO_ENCODERS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".avi": "libmp3lame"}
EffectKind = Literal["whoosh", "blip", "impact", "click"]


# --- writing ----------------------------------------------------------------------------------


def write_audio(path: Path | str, samples: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Encode ``samples`` (float32, shape (channels, n), values in [-1, 1]) to ``path``; the codec
    follows the extension (``AUDIO_ENCODERS``)."""
    path = Path(path)
    codec = AUDIO_ENCODERS.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"unsupported audio extension '{path.suffix}'; use one of {sorted(AUDIO_ENCODERS)}")
    samples = _as_channels(samples)
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=layout)
        if codec == "libmp3lame":
            stream.bit_rate = 192_000
        _encode_audio(container, stream, samples, sample_rate)
    return path


def _encode_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, samples: np.ndarray, sample_rate: int
) -> None:
    chunk = sample_rate  # one second per frame; the encoder re-chunks to its frame size
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    for start in range(0, samples.shape[1], chunk):
        frame = _audio_frame(samples[:, start : start + chunk], layout, sample_rate, start)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _audio_frame(samples: np.ndarray, layout: str, sample_rate: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), "fltp", layout)
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = Fraction(1, sample_rate)
    return frame


def _as_channels(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[np.newaxis, :]
    if samples.ndim != 2 or samples.shape[0] not in (1, 2):
        raise ValueError("samples must have shape (n,), (1, n) or (2, n)")
    return np.clip(samples, -1.0, 1.0)


# --- signals ----------------------------------------------------------------------------------


def tone(
    duration_s: float,
    *,
    freq_hz: float = 440.0,
    amplitude: float = 0.5,
    channels: int = 2,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """A steady sine, shape (channels, n)."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    mono = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.tile(mono, (channels, 1))


def noise(
    duration_s: float, *, amplitude: float = 0.25, seed: int = 0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Stereo white noise with RMS ``amplitude`` / 2 (uniform in ±amplitude·√3/2), shape (2, n)."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate)
    half_range = amplitude * np.sqrt(3) / 2
    return rng.uniform(-half_range, half_range, size=(2, n)).astype(np.float32)


def music_loop(
    duration_s: float = 8.0, *, bpm: float = 120.0, seed: int = 0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A seamless musical loop: I-V-vi-IV chords (a bar each), bass, kick on beats, hats on eighths.

    Notes that ring past the end wrap around to the start, so the loop repeats without a click.
    """
    n = round(duration_s * sample_rate)
    out = np.zeros((2, n), dtype=np.float64)
    beat_s = 60.0 / bpm
    rng = np.random.default_rng(seed)
    progression = ((60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60))  # C G Am F (MIDI)
    bar_s = 4 * beat_s
    for bar in range(int(np.ceil(duration_s / bar_s))):
        chord = progression[bar % len(progression)]
        start = round(bar * bar_s * sample_rate)
        for i, note in enumerate(chord):
            pan = 0.3 + 0.2 * i
            _add_wrapped(out, start, _pad_note(note, bar_s, sample_rate) * 0.08, pan)
        _add_wrapped(out, start, _bass_note(chord[0] - 24, bar_s, sample_rate) * 0.22, 0.5)
    kick = _kick(sample_rate) * 0.5
    hat = _hat(rng, sample_rate) * 0.08
    for beat in range(int(np.ceil(duration_s / beat_s))):
        start = round(beat * beat_s * sample_rate)
        _add_wrapped(out, start, kick, 0.5)
        _add_wrapped(out, start + round(beat_s / 2 * sample_rate), hat, 0.65)
    peak = float(np.max(np.abs(out))) or 1.0
    return (out * (0.7 / peak)).astype(np.float32)


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _pad_note(note: int, length_s: float, sample_rate: int) -> np.ndarray:
    t = np.arange(round(length_s * sample_rate)) / sample_rate
    f = _midi_hz(note)
    wave = sum(np.sin(2 * np.pi * f * k * t + k) / k**1.5 for k in range(1, 6))
    envelope = np.minimum(1.0, t / 0.08) * np.exp(-t / (length_s * 1.5))
    return wave * envelope


def _bass_note(note: int, length_s: float, sample_rate: int) -> np.ndarray:
    t = np.arange(round(length_s * sample_rate)) / sample_rate
    f = _midi_hz(note)
    wave = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)
    return wave * np.minimum(1.0, t / 0.01) * np.exp(-t / (length_s * 0.6))


def _kick(sample_rate: int) -> np.ndarray:
    t = np.arange(round(0.25 * sample_rate)) / sample_rate
    phase = 2 * np.pi * (50 * t + (100 / 30) * (1 - np.exp(-30 * t)))  # 150 Hz -> 50 Hz sweep
    return np.sin(phase) * np.exp(-t / 0.07)


def _hat(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    t = np.arange(round(0.05 * sample_rate)) / sample_rate
    white = rng.uniform(-1, 1, t.size)
    bright = np.diff(white, prepend=0.0)  # first difference: a crude high-pass
    return bright * np.exp(-t / 0.012)


def _add_wrapped(out: np.ndarray, start: int, sound: np.ndarray, pan: float) -> None:
    """Add a mono ``sound`` at ``start``, panned, wrapping past the end to the beginning."""
    n = out.shape[1]
    gains = np.array([np.cos(pan * np.pi / 2), np.sin(pan * np.pi / 2)])[:, np.newaxis] * np.sqrt(2)
    index = (start + np.arange(sound.size)) % n
    if sound.size <= n:
        out[:, index] += gains * sound  # indices are distinct: plain fancy-index add is exact
        return
    for channel in range(out.shape[0]):
        np.add.at(out[channel], index, gains[channel, 0] * sound)


def voice_like(duration_s: float, *, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A speech-like mono signal: a gliding harmonic buzz shaped into ~4 syllables per second."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    pitch = 140 + 25 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    buzz = sum(np.sin(k * phase) * (0.8**k) for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.7
    edge = np.minimum(1.0, np.minimum(t, duration_s - t) / 0.02)
    signal = buzz * syllables * edge
    peak = float(np.max(np.abs(signal))) or 1.0
    return (0.6 * signal / peak).astype(np.float32)[np.newaxis, :]


def effect(kind: EffectKind, *, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A short sound effect, shape (2, n), starting with its onset at sample 0 (except whoosh,
    which swells)."""
    rng = np.random.default_rng(seed)
    if kind == "blip":
        t = np.arange(round(0.12 * sample_rate)) / sample_rate
        mono = 0.7 * np.sin(2 * np.pi * 1320 * t) * np.exp(-t / 0.04)
        return np.tile(mono.astype(np.float32), (2, 1))
    if kind == "click":
        t = np.arange(round(0.03 * sample_rate)) / sample_rate
        mono = 0.8 * np.sin(2 * np.pi * 2000 * t) * np.exp(-t / 0.008)
        return np.tile(mono.astype(np.float32), (2, 1))
    if kind == "impact":
        t = np.arange(round(1.2 * sample_rate)) / sample_rate
        phase = 2 * np.pi * (45 * t + (80 / 8) * (1 - np.exp(-8 * t)))
        boom = np.sin(phase) * np.exp(-t / 0.35)
        burst = rng.uniform(-1, 1, t.size) * np.exp(-t / 0.05)
        mono = 0.75 * boom + 0.25 * burst
        return np.tile((0.9 * mono / np.max(np.abs(mono))).astype(np.float32), (2, 1))
    if kind == "whoosh":
        return _whoosh(rng, sample_rate)
    raise ValueError(f"unknown effect kind '{kind}'; use whoosh, blip, impact or click")


def _whoosh(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    n = round(0.7 * sample_rate)
    t = np.arange(n) / sample_rate
    spectrum = np.fft.rfft(rng.uniform(-1, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    band = np.exp(-0.5 * (np.log(np.maximum(freqs, 1) / 1200) / 0.6) ** 2)  # ~1.2 kHz band
    mono = np.fft.irfft(spectrum * band, n)
    mono *= np.sin(np.pi * t / t[-1]) ** 2  # swell and fade
    mono *= 0.8 / np.max(np.abs(mono))
    pan = t / t[-1]  # sweeps left to right
    return np.stack([mono * np.cos(pan * np.pi / 2), mono * np.sin(pan * np.pi / 2)]).astype(np.float32)


# --- files ------------------------------------------------------------------------------------


def make_tone(
    path: Path | str,
    duration_s: float = 1.0,
    *,
    freq_hz: float = 440.0,
    amplitude: float = 0.5,
    channels: int = 2,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """A steady sine tone file."""
    samples = tone(
        duration_s, freq_hz=freq_hz, amplitude=amplitude, channels=channels, sample_rate=sample_rate
    )
    return write_audio(path, samples, sample_rate=sample_rate)


def make_noise(
    path: Path | str,
    duration_s: float = 1.0,
    *,
    amplitude: float = 0.25,
    seed: int = 0,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """Steady stereo white noise (RMS ``amplitude`` / 2): level tests without phase effects."""
    return write_audio(
        path,
        noise(duration_s, amplitude=amplitude, seed=seed, sample_rate=sample_rate),
        sample_rate=sample_rate,
    )


def make_music_loop(
    path: Path | str,
    duration_s: float = 8.0,
    *,
    bpm: float = 120.0,
    seed: int = 0,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """A synthetic, seamless music loop (chords, bass, kick and hats)."""
    samples = music_loop(duration_s, bpm=bpm, seed=seed, sample_rate=sample_rate)
    return write_audio(path, samples, sample_rate=sample_rate)


def make_effect(
    path: Path | str, kind: EffectKind = "blip", *, seed: int = 0, sample_rate: int = SAMPLE_RATE
) -> Path:
    """A short sound effect file: ``whoosh``, ``blip``, ``impact`` or ``click``."""
    return write_audio(path, effect(kind, seed=seed, sample_rate=sample_rate), sample_rate=sample_rate)


def make_voice_like(
    path: Path | str, duration_s: float = 2.0, *, seed: int = 0, sample_rate: int = SAMPLE_RATE
) -> Path:
    """A mono speech-like file (for fake speech synthesizers)."""
    return write_audio(
        path, voice_like(duration_s, seed=seed, sample_rate=sample_rate), sample_rate=sample_rate
    )


def make_video(
    path: Path | str,
    *,
    duration_s: float = 2.0,
    width: int = 160,
    height: int = 120,
    fps: float = 30,
    codec: str = "h264",
    audio: bool | float = False,
    audio_amplitude: float = 0.25,
    preset: str = "ultrafast",
    bframes: int = 0,
    gop_s: float = 1.0,
) -> Path:
    """A moving test-pattern video. ``audio``: False (no audio track), True (a 440 Hz tone) or a
    tone frequency in Hz. The container follows the extension (mp4, mov, mkv, avi)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_AUDIO_ENCODERS:
        raise ValueError(f"unsupported video extension '{suffix}'; use one of {sorted(VIDEO_AUDIO_ENCODERS)}")
    rate = Fraction(fps).limit_denominator(1001)
    frame_count = max(1, round(duration_s * rate))
    with av.open(str(path), "w") as container:
        video = _add_video_stream(container, codec, width, height, rate, preset, bframes, gop_s)
        sound = None
        if audio is not False:
            freq_hz = 440.0 if audio is True else float(audio)
            sound = container.add_stream(VIDEO_AUDIO_ENCODERS[suffix], rate=SAMPLE_RATE, layout="stereo")
        pattern = _Pattern(width, height)
        samples_done = 0
        for index in range(frame_count):
            frame = pattern.frame(index)
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(video.encode(frame))
            if sound is not None:
                until = round((index + 1) / rate * SAMPLE_RATE)
                samples_done = _mux_tone(container, sound, freq_hz, audio_amplitude, samples_done, until)
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return path


def _add_video_stream(
    container: av.container.OutputContainer,
    codec: str,
    width: int,
    height: int,
    rate: Fraction,
    preset: str,
    bframes: int,
    gop_s: float,
) -> av.VideoStream:
    stream = container.add_stream(VIDEO_ENCODERS.get(codec, codec), rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuvj420p" if stream.codec_context.name == "mjpeg" else "yuv420p"
    gop = max(1, round(gop_s * rate))
    stream.codec_context.gop_size = gop
    if stream.codec_context.name == "libx264":
        stream.codec_context.options = {
            "preset": preset,
            "x264-params": f"keyint={gop}:min-keyint={gop}:bframes={bframes}:scenecut=0:log-level=error",
        }
    elif bframes:
        stream.codec_context.max_b_frames = bframes
    return stream


def _mux_tone(
    container: av.container.OutputContainer,
    stream: av.AudioStream,
    freq_hz: float,
    amplitude: float,
    start: int,
    until: int,
) -> int:
    if until <= start:
        return start
    t = np.arange(start, until) / SAMPLE_RATE
    mono = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    frame = _audio_frame(np.stack([mono, mono]), "stereo", SAMPLE_RATE, start)
    container.mux(stream.encode(frame))
    return until


class _Pattern:
    """Moving colour bars over a fixed noise texture, built directly as yuv420p planes."""

    def __init__(self, width: int, height: int) -> None:
        rng = np.random.default_rng(1234)
        self.width, self.height = width, height
        x = np.arange(width * 2)
        bars = ((x // max(1, width // 8)) % 8 * 28 + 16).astype(np.uint8)
        texture = rng.integers(0, 24, size=(height, width * 2), dtype=np.uint8)
        self._luma = (bars[np.newaxis, :] + texture).astype(np.uint8)
        cw, ch = (width + 1) // 2, (height + 1) // 2
        cx = np.arange(cw * 2)
        self._u = np.tile((cx * 3 % 200 + 28).astype(np.uint8), (ch, 1))
        self._v = np.tile((255 - (cx * 5 % 200) - 28).astype(np.uint8), (ch, 1))

    def frame(self, index: int) -> av.VideoFrame:
        w, h = self.width, self.height
        shift = (index * 4) % w
        frame = av.VideoFrame(w, h, "yuv420p")
        luma = self._luma[:, shift : shift + w].copy()
        box = 16 + (index * 2) % max(1, h - 32)
        luma[box : box + 16, (index * 3) % max(1, w - 16) :][:, :16] = 235  # a moving white square
        _fill_plane(frame.planes[0], luma)
        cshift = shift // 2
        cw, ch = (w + 1) // 2, (h + 1) // 2
        _fill_plane(frame.planes[1], self._u[:ch, cshift : cshift + cw])
        _fill_plane(frame.planes[2], self._v[:ch, cshift : cshift + cw])
        return frame


def _fill_plane(plane: av.video.plane.VideoPlane, pixels: np.ndarray) -> None:
    """Copy ``pixels`` (h, w) into a plane whose rows may be padded to ``line_size``."""
    rows, cols = pixels.shape
    view = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    view[:rows, :cols] = pixels
