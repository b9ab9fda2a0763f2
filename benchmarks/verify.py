"""Sanity checks that two contenders did the same job: durations, audio levels, video copy.

Not a test: the figures are printed beside the timings so a reader can see both outputs are
comparable (same length, music ducked under speech to a similar level).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

Window = tuple[float, float]


@dataclass(frozen=True)
class OutputCheck:
    path: Path
    container_s: float
    video_s: float
    audio_s: float
    video_codec: str
    audio_codec: str
    audio_rate_hz: int
    ducked_rms_db: float | None
    unducked_rms_db: float | None
    size_mb: float


def check_output(path: Path, ducked: Window | None, unducked: Window | None) -> OutputCheck:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        container_s = (container.duration or 0) / av.time_base
        video_s = float(video.duration * video.time_base) if video.duration else math.nan
        audio_s = float(audio.duration * audio.time_base) if audio.duration else math.nan
        codecs = (video.codec_context.name, audio.codec_context.name, audio.codec_context.sample_rate)
    samples, rate = decode_mono(path)
    return OutputCheck(
        path=path,
        container_s=container_s,
        video_s=video_s,
        audio_s=audio_s,
        video_codec=codecs[0],
        audio_codec=codecs[1],
        audio_rate_hz=codecs[2],
        ducked_rms_db=rms_db(samples, rate, ducked) if ducked else None,
        unducked_rms_db=rms_db(samples, rate, unducked) if unducked else None,
        size_mb=path.stat().st_size / 1e6,
    )


def decode_mono(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream, down-mixed to mono float32, and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.codec_context.sample_rate)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        ]
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32), stream.codec_context.sample_rate


def rms_db(samples: np.ndarray, rate: int, window: Window) -> float:
    part = samples[int(window[0] * rate) : int(window[1] * rate)]
    if part.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(part, dtype=np.float64))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def video_packets_digest(path: Path) -> tuple[int, str]:
    """Number of video packets and a digest of their bytes: equal for a packet-for-packet copy."""
    digest = hashlib.sha256()
    count = 0
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                digest.update(bytes(packet))
                count += 1
    return count, digest.hexdigest()[:16]
