"""The floor: the bare cost of encoding the job's audio to AAC, in its own process.

What any renderer of the job must at least do: start Python, import PyAV and NumPy, and encode
the video's length of 48 kHz stereo to AAC at autovid's bitrate into an .m4a. The samples are the
job's own mix, read as raw float32 from ``--pcm`` (the harness decodes autovid's warm-up output
into it: the AAC encoder's speed depends on what it encodes, so a test tone would make the floor
too low). Without ``--pcm`` a short synthetic buffer is cycled instead.

    python benchmarks/aac_floor.py OUT.m4a --duration 60 [--pcm mix.f32]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

RATE_HZ = 48_000
CHANNELS = 2
BIT_RATE = 192_000  # autovid's default AAC bitrate; the harness passes autovid's current one
BLOCK_SAMPLES = 1024  # one AAC frame: no re-framing inside the encoder
READ_BLOCKS = 64  # blocks per read from the PCM file
BUFFER_SAMPLES = 1021 * 67  # ~1.4 s, not a multiple of the block, so blocks do not repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of audio")
    parser.add_argument("--pcm", type=Path, help="interleaved stereo float32 at 48 kHz to encode")
    parser.add_argument("--bit-rate", type=int, default=BIT_RATE, help="bits per second")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="AAC encoder option (repeatable)"
    )
    args = parser.parse_args(argv)
    options = dict(item.split("=", 1) for item in args.option)
    total = int(args.duration * RATE_HZ)
    blocks = pcm_blocks(args.pcm, total) if args.pcm else synthetic_blocks(total)
    started = time.perf_counter()
    encode(args.output, blocks, bit_rate=args.bit_rate, options=options)
    print(json.dumps({"encode_s": time.perf_counter() - started}))
    return 0


def pcm_blocks(path: Path, total: int) -> Iterator[np.ndarray]:
    """(2, n) planar blocks of the file's samples, up to ``total`` per channel (the file is cycled
    when shorter)."""
    if path.stat().st_size < CHANNELS * 4:  # cycling an empty file would never end
        raise ValueError(f"{path} holds no stereo float32 sample")
    done = 0
    while done < total:
        with path.open("rb") as source:
            while done < total:
                count = min(BLOCK_SAMPLES * READ_BLOCKS, total - done)
                chunk = np.fromfile(source, np.float32, count=count * CHANNELS)
                if chunk.size < CHANNELS:
                    break
                planar = chunk.reshape(-1, CHANNELS).T
                for start in range(0, planar.shape[1], BLOCK_SAMPLES):
                    yield planar[:, start : start + BLOCK_SAMPLES]
                done += planar.shape[1]


def synthetic_blocks(total: int) -> Iterator[np.ndarray]:
    """Chords plus a little noise, cycled from a ~1.4 s buffer."""
    t = np.arange(BUFFER_SAMPLES + BLOCK_SAMPLES) / RATE_HZ
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.15
    noise = np.random.default_rng(3).standard_normal(t.size) * 0.02
    source = np.stack([tone + noise, tone * 0.9 - noise]).astype(np.float32)
    for offset in range(0, total, BLOCK_SAMPLES):
        start = offset % BUFFER_SAMPLES
        yield source[:, start : start + min(BLOCK_SAMPLES, total - offset)]


def encode(
    path: Path,
    blocks: Iterator[np.ndarray],
    *,
    bit_rate: int = BIT_RATE,
    options: dict[str, str] | None = None,
) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=RATE_HZ, layout="stereo", options=options or {})
        stream.bit_rate = bit_rate
        pts = 0
        for block in blocks:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            frame.sample_rate = RATE_HZ
            frame.pts = pts
            pts += block.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


if __name__ == "__main__":
    sys.exit(main())
