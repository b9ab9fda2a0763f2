"""Fixtures for rendering real (tiny) media: generated files, fake asset source and synthesizer,
and helpers that decode outputs and measure them."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.filter import Graph

from autovid import samples
from autovid.errors import AssetError
from autovid.ports import SpeechRequest
from autovid.render.pipeline import AssetSource, RenderResult, Synthesizer, render
from autovid.spec.models import AudioAsset, JobSpec, VideoAsset
from autovid.spec.validation import parse_spec

SR = 48_000


class Media:
    """Generates sample media on first request into one session folder, reused by every test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def get(self, name: str, make: Callable[[Path], object]) -> Path:
        path = self.folder / name
        with self._lock:
            if not path.exists():
                make(path)
        return path

    def video(self, name: str, **kwargs: Any) -> Path:
        kwargs.setdefault("duration_s", 2.0)
        return self.get(name, lambda p: samples.make_video(p, **kwargs))

    def tone(self, name: str, duration_s: float, **kwargs: Any) -> Path:
        return self.get(name, lambda p: samples.make_tone(p, duration_s, **kwargs))

    def noise(self, name: str, duration_s: float, **kwargs: Any) -> Path:
        return self.get(name, lambda p: samples.make_noise(p, duration_s, **kwargs))

    def effect(self, name: str, kind: samples.EffectKind) -> Path:
        return self.get(name, lambda p: samples.make_effect(p, kind))

    def music(self, name: str, duration_s: float) -> Path:
        return self.get(name, lambda p: samples.make_music_loop(p, duration_s))


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("render-media"))


class FolderAssets(AssetSource):
    """Resolves each asset's ``source`` as a file name in one folder, as a local fetch would."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requested: list[str] = []

    def fetch_all(self, assets: Sequence[AudioAsset | VideoAsset], dest_dir: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for asset in assets:
            self.requested.append(asset.id)
            path = self.folder / asset.source
            if not path.is_file():
                raise AssetError(asset.id, f"file '{asset.source}' not found")
            found[asset.id] = path
        return found


class FakeSynthesizer(Synthesizer):
    """Writes a generated file per distinct request: speech-like sound, a tone, or silence."""

    def __init__(
        self, folder: Path, *, kind: str = "voice", duration_s: float = 0.8, delay_s: float = 0.0
    ) -> None:
        self.folder = folder
        self.kind = kind
        self.duration_s = duration_s
        self.delay_s = delay_s
        self.calls: list[SpeechRequest] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()

    def synthesize(self, request: SpeechRequest) -> Path:
        with self._lock:
            self.calls.append(request)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            time.sleep(self.delay_s)
            key = hashlib.sha256(repr(request).encode()).hexdigest()[:16]
            path = self.folder / f"speech-{self.kind}-{key}.wav"
            if self.kind == "voice":
                samples.make_voice_like(path, self.duration_s)
            elif self.kind == "tone":
                samples.make_tone(path, self.duration_s, freq_hz=2000.0, amplitude=0.3, channels=1)
            else:
                samples.write_audio(path, np.zeros((1, round(self.duration_s * SR)), np.float32))
            return path
        finally:
            with self._lock:
                self._active -= 1


def make_spec(
    video: str,
    *,
    audio: dict[str, str] | None = None,
    music: dict[str, Any] | None = None,
    timeline: list[dict[str, Any]] | None = None,
    video_volume: float = 0.0,
    encoding: dict[str, Any] | None = None,
) -> JobSpec:
    raw: dict[str, Any] = {
        "assets": {
            "video": {"id": "video", "source": video, "volume": video_volume},
            "audio": [{"id": i, "source": s} for i, s in (audio or {}).items()],
        },
        "timeline": timeline or [],
        "output": {"filename": "out.mp4", "encoding": {"preset": "ultrafast", **(encoding or {})}},
    }
    if music is not None:
        raw["backgroundMusic"] = music
    return parse_spec(raw)


def audio_event(start: float, asset: str, volume: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"start": start, "type": "audio", "data": {"assetId": asset, "volume": volume, **extra}}


def tts_event(start: float, text: str, volume: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"start": start, "type": "tts", "data": {"text": text, "volume": volume, **extra}}


class Renderer:
    """Runs ``render()`` on generated media with fakes for fetching and speech."""

    def __init__(self, media: Media, tmp_path: Path) -> None:
        self.media = media
        self.tmp_path = tmp_path
        self.assets = FolderAssets(media.folder)
        self.speech = FakeSynthesizer(tmp_path, kind="voice")
        self.progress: list[tuple[str, float]] = []

    def __call__(self, spec: JobSpec, **kwargs: Any) -> RenderResult:
        kwargs.setdefault("progress", lambda stage, percent: self.progress.append((stage, percent)))
        return render(
            spec,
            output_path=self.tmp_path / "out" / "out.mp4",
            assets=self.assets,
            speech=self.speech,
            workdir=self.tmp_path / "work",
            **kwargs,
        )


@pytest.fixture
def renderer(media: Media, tmp_path: Path) -> Renderer:
    return Renderer(media, tmp_path)


# --- measuring outputs ------------------------------------------------------------------------


def decode_audio(path: Path) -> np.ndarray:
    """The first audio stream, decoded to planar float32 (channels, n) at 48 kHz."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.rate == SR
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=SR)
        frames = [f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)]
        frames += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(frames, axis=1).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def span(x: np.ndarray, start_s: float, stop_s: float) -> np.ndarray:
    return x[:, round(start_s * SR) : round(stop_s * SR)]


def window_levels_db(x: np.ndarray, start_s: float, stop_s: float, width_s: float) -> np.ndarray:
    width = round(width_s * SR)
    first, last = round(start_s * SR), round(stop_s * SR)
    return np.array([rms_db(x[:, i : i + width]) for i in range(first, last - width + 1, width)])


def onset_s(x: np.ndarray, after_s: float, before_s: float, fraction: float = 0.25) -> float:
    """Where the envelope first reaches ``fraction`` of its peak inside [after_s, before_s)."""
    part = np.max(np.abs(span(x, after_s, before_s)), axis=0)
    return after_s + int(np.argmax(part >= fraction * part.max())) / SR


def true_peak_db(x: np.ndarray) -> float:
    upsampled = np.fft.irfft(np.fft.rfft(x, axis=1), 4 * x.shape[1], axis=1) * 4
    return float(20 * np.log10(np.abs(upsampled).max()))


def video_packets(path: Path) -> list[tuple[bytes, Fraction, bool]]:
    """(payload, pts in seconds, keyframe) of every video packet."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (bytes(p), p.pts * stream.time_base, p.is_keyframe)
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]


def stream_durations_s(path: Path) -> dict[str, float]:
    with av.open(str(path)) as container:
        return {s.type: float(s.duration * s.time_base) for s in container.streams if s.duration}


def video_duration_s(path: Path) -> float:
    """From the earliest pts to the end of the last frame, by demuxing (the reference measure)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size and p.pts is not None]
        start = min(p.pts for p in packets)
        frame = 1 / (stream.average_rate or stream.guessed_rate)
        end = max(
            p.pts * stream.time_base + (p.duration * stream.time_base if p.duration else frame)
            for p in packets
        )
        return float(end - start * stream.time_base)


def frame_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(1 / (stream.average_rate or stream.guessed_rate))


@dataclass(frozen=True)
class Ebur128:
    """FFmpeg's ``ebur128`` measurement of a signal: LUFS, LU and dBTP."""

    integrated_lufs: float
    loudness_range: float
    true_peak_dbtp: float


def ffmpeg_loudness(x: np.ndarray) -> Ebur128:
    """``x`` (2, n) at 48 kHz measured by FFmpeg's ``ebur128`` filter (an implementation
    independent of autovid's meter), read from the metadata of the last frame it passes on."""
    graph = Graph()
    source = graph.add_abuffer(format="fltp", sample_rate=SR, layout="stereo", time_base=f"1/{SR}")
    meter = graph.add("ebur128", "metadata=1:peak=true")
    sink = graph.add("abuffersink")
    source.link_to(meter)
    meter.link_to(sink)
    graph.configure()
    last: dict[str, str] = {}

    def drain() -> None:
        while True:
            try:
                frame = graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            if "lavfi.r128.I" in frame.metadata:
                last.update(frame.metadata)

    for start in range(0, x.shape[1], SR):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x[:, start : start + SR], dtype=np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = SR, start
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return Ebur128(
        integrated_lufs=float(last["lavfi.r128.I"]),
        loudness_range=float(last["lavfi.r128.LRA"]),
        true_peak_dbtp=float(20 * np.log10(float(last["lavfi.r128.true_peak"]))),
    )
