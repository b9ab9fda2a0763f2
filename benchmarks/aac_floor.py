"""The floor: the bare cost of encoding the job's audio to AAC, in its own process.

What any renderer of the job must at least do for a 60 s video: start Python, import PyAV and
NumPy, and encode 60 s of 48 kHz stereo to AAC at autovid's bitrate into an .m4a. The samples
come from a short pre-computed buffer so that making them costs (almost) nothing.

    python benchmarks/aac_floor.py OUT.m4a --duration 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

RATE_HZ = 48_000
BIT_RATE = 192_000  # autovid's default AAC bitrate; the harness passes autovid's current one
BLOCK_SAMPLES = 1024  # one AAC frame: no re-framing inside the encoder
BUFFER_SAMPLES = 1021 * 67  # ~1.4 s, not a multiple of the block, so blocks do not repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of audio")
    parser.add_argument("--bit-rate", type=int, default=BIT_RATE, help="bits per second")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="AAC encoder option (repeatable)"
    )
    args = parser.parse_args(argv)
    options = dict(item.split("=", 1) for item in args.option)
    started = time.perf_counter()
    encode(args.output, args.duration, bit_rate=args.bit_rate, options=options)
    print(json.dumps({"encode_s": time.perf_counter() - started}))
    return 0


def music_like_buffer() -> np.ndarray:
    """Chords plus a little noise, (2, BUFFER_SAMPLES + BLOCK_SAMPLES) float32."""
    t = np.arange(BUFFER_SAMPLES + BLOCK_SAMPLES) / RATE_HZ
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.15
    noise = np.random.default_rng(3).standard_normal(t.size) * 0.02
    return np.stack([tone + noise, tone * 0.9 - noise]).astype(np.float32)


def encode(
    path: Path, duration_s: float, *, bit_rate: int = BIT_RATE, options: dict[str, str] | None = None
) -> None:
    source = music_like_buffer()
    total = int(duration_s * RATE_HZ)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=RATE_HZ, layout="stereo", options=options or {})
        stream.bit_rate = bit_rate
        for offset in range(0, total, BLOCK_SAMPLES):
            count = min(BLOCK_SAMPLES, total - offset)
            start = offset % BUFFER_SAMPLES
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(source[:, start : start + count]), format="fltp", layout="stereo"
            )
            frame.sample_rate = RATE_HZ
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


if __name__ == "__main__":
    sys.exit(main())
