"""Helpers for the speech tests: decode audio, measure it, make real MP3 bytes, and a stubbed Polly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import boto3
import numpy as np
import pytest
from botocore.stub import Stubber


def decode_mono(source: bytes | Path) -> tuple[np.ndarray, int]:
    """Decode an audio file to mono float32 samples and their rate."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(handle) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().astype(np.float32) for frame in container.decode(stream)]
        rate = stream.rate
    samples = np.concatenate([c if c.ndim == 1 else c.mean(axis=0) for c in chunks])
    if np.abs(samples).max(initial=0) > 2:  # integer PCM (s16) -> [-1, 1]
        samples = samples / 32768.0
    return samples, rate


def duration_s(source: bytes | Path) -> float:
    samples, rate = decode_mono(source)
    return len(samples) / rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0


def median_pitch_hz(samples: np.ndarray, rate: int) -> float:
    """Median fundamental frequency of the loud 40 ms frames, by autocorrelation (60-400 Hz)."""
    frame = int(0.04 * rate)
    loud = max(rms(samples) * 0.5, 1e-4)
    pitches = []
    for start in range(0, len(samples) - frame, frame):
        chunk = samples[start : start + frame]
        if rms(chunk) < loud:
            continue
        chunk = chunk - chunk.mean()
        corr = np.correlate(chunk, chunk, mode="full")[frame - 1 :]
        low, high = int(rate / 400), int(rate / 60)
        lag = low + int(np.argmax(corr[low:high]))
        pitches.append(rate / lag)
    return float(np.median(pitches)) if pitches else 0.0


def make_mp3(seconds: float, freq_hz: float = 440.0, rate: int = 24_000) -> bytes:
    """Real MP3 bytes (a sine tone) encoded with libmp3lame, as Polly would return."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        stream.format = "fltp"
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
        for start in range(0, len(tone), 1152):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 1152], format="fltp", layout="mono")
            frame.rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def media() -> SimpleNamespace:
    """The helpers above, for tests (pytest's import mode keeps conftest out of plain imports)."""
    return SimpleNamespace(
        decode_mono=decode_mono,
        duration_s=duration_s,
        rms=rms,
        median_pitch_hz=median_pitch_hz,
        make_mp3=make_mp3,
    )


@pytest.fixture(scope="session")
def mp3_tones() -> dict[float, bytes]:
    """Real MP3 tones by duration in seconds, made once per session."""
    return {seconds: make_mp3(seconds, 300 + 100 * seconds) for seconds in (0.5, 1.0, 1.5, 2.0)}


@pytest.fixture
def client() -> Any:
    """A Polly client whose answers the tests script (botocore's Stubber: no network)."""
    return boto3.client(
        "polly", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()
