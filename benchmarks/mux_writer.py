"""The fast path's MP4 writer alone: CPU time of ``CopyingMp4Writer`` for the render benchmark's
60 s 1080p30 template and the job's AAC packets, segment by segment as the encoder hands them
over, against a bare PyAV loop copying the video packets alone (FFmpeg's own file I/O: the floor).

    .venv/bin/python benchmarks/mux_writer.py [--repeat 9] [--captions]

The AAC packets are encoded once (not timed); every run gets fresh packet objects and a new
output file (removing the previous one is not timed: unlinking 36 MB costs ~25 ms of system time).
"""

from __future__ import annotations

import argparse
import statistics
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from autovid.render.aac import write_aac_track
from autovid.render.media import VideoScan, scan_video
from autovid.render.mux import CopyingMp4Writer, TextTrack
from benchmarks.inputs import JobShape, prepare
from benchmarks.render import DEFAULT_CACHE_DIR

Recorded = list[list[tuple[bytes, int, int, int, bool]]]


class _Recorder:
    """An ``AacSink`` keeping each segment's packets as plain values."""

    def __init__(self) -> None:
        self.segments: Recorded = []
        self.stream_args = (0, 0)

    def add_aac_stream(self, sample_rate: int, bitrate_bps: int) -> None:
        self.stream_args = (sample_rate, bitrate_bps)

    def write_aac(self, packets: list[av.Packet]) -> None:
        self.segments.append([(bytes(p), p.pts, p.dts, p.duration, p.is_keyframe) for p in packets])


def _packets(segments: Recorded, sample_rate: int) -> list[list[av.Packet]]:
    made = []
    for segment in segments:
        made.append([])
        for data, pts, dts, duration, key in segment:
            packet = av.Packet(data)
            packet.pts, packet.dts, packet.duration, packet.time_base = (
                pts,
                dts,
                duration,
                Fraction(1, sample_rate),
            )
            packet.is_keyframe = key
            made[-1].append(packet)
    return made


def _writer_cpu_s(video: Path, scan: VideoScan, aac: _Recorder, out: Path, track: TextTrack | None) -> float:
    segments = _packets(aac.segments, aac.stream_args[0])
    out.unlink(missing_ok=True)
    started = time.process_time()
    with CopyingMp4Writer(video_path=video, scan=scan, output_path=out, text_track=track) as w:
        w.add_aac_stream(*aac.stream_args)
        for packets in segments:
            w.write_aac(packets)
        w.finish()
    return time.process_time() - started


def _floor_cpu_s(video: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    started = time.process_time()
    with (
        av.open(str(video), stream_options=[{"skip_frame": "all"}]) as source,
        av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dest,
    ):
        stream = source.streams.video[0]
        copied = dest.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.size:
                packet.stream = copied
                dest.mux_one(packet)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--captions", action="store_true", help="with a mov_text track of 11 cues")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    inputs = prepare(args.cache_dir, JobShape(60))
    pcm = np.fromfile(inputs.mix_pcm, dtype=np.float32).reshape(-1, 2).T
    aac = _Recorder()
    write_aac_track([np.ascontiguousarray(pcm)], aac, sample_rate=48_000, expected_samples=pcm.shape[1])
    track = (
        TextTrack("eng", [(1.0 + 5 * i, 3.5 + 5 * i, f"cue {i}") for i in range(11)])
        if args.captions
        else None
    )
    out = inputs.folder / "mux-writer.mp4"
    scan = scan_video(inputs.video_path)  # the batch's probe cache has it: not the writer's
    writer, floor = [], []
    for run in range(args.repeat + 1):  # the first of each is a warm-up
        cpu_s = _writer_cpu_s(inputs.video_path, scan, aac, out, track), _floor_cpu_s(inputs.video_path, out)
        if run:
            writer.append(cpu_s[0])
            floor.append(cpu_s[1])
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{sum(map(len, aac.segments))} AAC packets in {len(aac.segments)} segments; load {load}")
    print(f"writer: median {statistics.median(writer) * 1000:.1f} ms CPU (min {min(writer) * 1000:.1f})")
    print(f"floor (video packets alone, bare PyAV): median {statistics.median(floor) * 1000:.1f} ms CPU")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
