"""Re-encode benchmark: autovid's libx264 path against a minimal PyAV transcode and the ffmpeg CLI.

The job is the render benchmark's 20 s 1080p30 job with ``output.encoding`` ``bitrate: 4M,
preset: medium``, so autovid decodes the video and encodes it once with libx264. In the same run,
interleaved, median of ``--repeat``:

- autovid (``python -m autovid render``), the whole render: speech, mix, AAC, video, MP4;
- autovid on the same job with its audio left out (``without_audio``): what the render costs
  beside the work the two below do, so the difference is the price of the job's audio;
- the floor (``benchmarks/reencode_floor.py``): PyAV's own FFmpeg and libx264, decode -> encode ->
  mux on one thread, with a ready AAC track of the job's mix copied in;
- the system ffmpeg CLI when installed, same settings, same AAC track copied in (its libx264 is
  the distribution's build, not PyAV's: the floor is the like-for-like comparison).

Reported: wall time, CPU time, peak RSS, PSNR of each output's video against the source (every
``PSNR_STEP``-th frame, all three planes, as FFmpeg's ``psnr`` filter averages them), and the
ratios autovid / ffmpeg and autovid / floor from the same run, with the load average.

    .venv/bin/python benchmarks/reencode.py                  # 20 s 1080p, median of 3
    .venv/bin/python benchmarks/reencode.py --repeat 1       # smoke run
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np

from benchmarks.inputs import BenchInputs, JobShape, prepare
from benchmarks.measure import Contender, Run, python_command, run_measured
from benchmarks.render import DEFAULT_CACHE_DIR, autovid_env, compile_autovid, machine_info

BENCH_DIR = Path(__file__).resolve().parent
BITRATE = "4M"
BITRATE_BPS = 4_000_000
PRESET = "medium"
TARGET_FFMPEG_RATIO = 1.05  # autovid wall time / ffmpeg CLI wall time, at most
TARGET_PSNR_DELTA_DB = 0.1  # |autovid PSNR - reference PSNR|, at most
PSNR_STEP = 3  # compare every third frame: the verdict does not need all 600


@dataclass(frozen=True)
class Job:
    inputs: BenchInputs
    spec_path: Path  # the render benchmark's job with the re-encoding settings
    video_only_path: Path  # the same job without its audio: no speech, music or effects
    audio_path: Path  # the job's mix as AAC, copied in by the floor and ffmpeg


def prepare_job(cache_dir: Path, shape: JobShape) -> Job:
    inputs = prepare(cache_dir, shape)
    spec = json.loads(inputs.spec_path.read_text())
    spec["output"]["encoding"] = {"bitrate": BITRATE, "preset": PRESET}
    spec_path = inputs.folder / "reencode.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    video_only_path = inputs.folder / "reencode-video-only.json"
    video_only_path.write_text(json.dumps(without_audio(spec), indent=2))
    audio_path = inputs.folder / "mix.m4a"
    if not audio_path.exists():
        from benchmarks.aac_floor import encode, pcm_blocks

        partial = audio_path.with_name("mix.partial.m4a")
        encode(partial, pcm_blocks(inputs.mix_pcm, shape.duration_s * 48_000))
        partial.replace(audio_path)
    return Job(inputs, spec_path, video_only_path, audio_path)


def without_audio(spec: dict[str, Any]) -> dict[str, Any]:
    """The job with nothing to mix: its render is the video's decode, libx264 and the MP4 (with a
    silent AAC track), the work the floor and the ffmpeg CLI do; the difference from the whole
    job is what autovid's audio (speech, mix, AAC, loudness) costs beside libx264."""
    bare = copy.deepcopy(spec)
    bare["timeline"] = []
    bare.pop("backgroundMusic", None)
    bare["assets"]["audio"] = []
    return bare


def commands(job: Job, outputs: dict[str, Path]) -> dict[str, list[str]]:
    found = {
        "autovid": python_command(
            "-m", "autovid", "render", str(job.spec_path), "-o", str(outputs["autovid"])
        ),
        "video-only": python_command(
            "-m", "autovid", "render", str(job.video_only_path), "-o", str(outputs["video-only"])
        ),
        "floor": python_command(
            str(BENCH_DIR / "reencode_floor.py"),
            str(job.inputs.video_path),
            str(job.audio_path),
            str(outputs["floor"]),
            f"--bitrate={BITRATE_BPS}",
            f"--preset={PRESET}",
        ),
    }
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        found["ffmpeg"] = [
            *(ffmpeg, "-y", "-v", "error", "-i", str(job.inputs.video_path), "-i", str(job.audio_path)),
            *("-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", PRESET, "-b:v", BITRATE),
            *("-pix_fmt", "yuv420p", "-c:a", "copy", "-movflags", "+faststart", str(outputs["ffmpeg"])),
        ]
    return found


def run_all(job: Job, out_dir: Path, repeat: int) -> tuple[dict[str, Contender], dict[str, Path]]:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {name: out_dir / f"{name}.mp4" for name in ("autovid", "video-only", "floor", "ffmpeg")}
    argv = commands(job, outputs)
    env = autovid_env(job.inputs, out_dir)
    contenders = {name: Contender(name) for name in argv}

    def measured(name: str, attempt: str) -> Run:
        outputs[name].unlink(missing_ok=True)
        run = run_measured(argv[name], log_path=out_dir / f"{name}-{attempt}.log", cwd=out_dir, env=env)
        print(
            f"  {name:<8} {attempt:<7} {run.wall_s:7.2f} s  {run.cpu_s:7.2f} CPU-s  {run.peak_rss_mb:6.0f} MB"
        )
        return run

    compile_autovid()
    measured("autovid", "warmup")  # fills the speech cache and the page cache
    for attempt in range(1, repeat + 1):
        for name in argv:  # interleaved: load from elsewhere hits every contender alike
            contenders[name].runs.append(measured(name, f"run{attempt}"))
    return contenders, {name: outputs[name] for name in argv}


def psnr_db(output: Path, source: Path, step: int = PSNR_STEP) -> float:
    """PSNR of ``output``'s video against ``source`` over every ``step``-th frame: the mean
    squared error of all Y, U and V samples together (FFmpeg's ``psnr`` filter's average)."""
    total_error, total_samples = 0.0, 0
    for index, (ours, theirs) in enumerate(zip(_planes(output), _planes(source), strict=False)):
        if index % step:
            continue
        for a, b in zip(ours, theirs, strict=True):
            diff = a.astype(np.int32) - b.astype(np.int32)
            total_error += float(np.dot(diff.ravel(), diff.ravel()))
            total_samples += diff.size
    mse = total_error / max(1, total_samples)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _planes(path: Path) -> Iterator[list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield [
                np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:, : plane.width]
                for plane in frame.planes
            ]


def format_report(
    contenders: dict[str, Contender], psnr: dict[str, float], machine: dict[str, str], command: str
) -> str:
    labels = {
        "autovid": "autovid render (mix + AAC + libx264 + MP4)",
        "video-only": "autovid render, the job's audio left out (libx264 + MP4)",
        "floor": "minimal PyAV transcode (floor)",
        "ffmpeg": "ffmpeg CLI (system build)",
    }
    lines = [
        f"Command: `{command}` (from the repository root)",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; load average (1 / 5 / 15 min) "
        f"{machine['load']} at the start, {machine['load_end']} at the end. PyAV {machine['pyav']}.",
        "",
        "| contender | wall, s (median) | range, s | CPU, s | peak RSS, MB | PSNR, dB |",
        "|---|---|---|---|---|---|",
    ]
    for name, contender in contenders.items():
        walls = sorted(run.wall_s for run in contender.runs)
        lines.append(
            f"| {labels[name]} | {contender.wall_s:.2f} | {walls[0]:.2f} - {walls[-1]:.2f} | "
            f"{contender.cpu_s:.2f} | {contender.peak_rss_mb:.0f} | {psnr[name]:.2f} |"
        )
    lines.append("")
    autovid = contenders["autovid"]
    for name in ("ffmpeg", "floor"):
        if name in contenders:
            ratio = autovid.wall_s / contenders[name].wall_s
            delta = psnr["autovid"] - psnr[name]
            cpu = autovid.cpu_s / contenders[name].cpu_s
            lines.append(f"- autovid / {name}: wall {ratio:.2f}x, CPU {cpu:.2f}x, PSNR {delta:+.2f} dB")
    if "ffmpeg" in contenders:
        bare, cli = contenders["video-only"], contenders["ffmpeg"]
        lines.append(
            f"- autovid without the job's audio / ffmpeg: wall {bare.wall_s / cli.wall_s:.2f}x, "
            f"CPU {bare.cpu_s / cli.cpu_s:.2f}x; the audio (speech, mix, AAC, loudness) "
            f"added {autovid.wall_s - bare.wall_s:+.2f} s wall, {autovid.cpu_s - bare.cpu_s:+.2f} CPU-s"
        )
        rounds = [a.wall_s / b.wall_s for a, b in zip(autovid.runs, cli.runs, strict=True)]
        lines.append(
            "- autovid / ffmpeg round by round (each pair from the same round): "
            + ", ".join(f"{r:.2f}x" for r in rounds)
        )
        ratio = autovid.wall_s / cli.wall_s
        verdict = "pass" if ratio <= TARGET_FFMPEG_RATIO else "fail"
        lines.append(f"- target autovid / ffmpeg <= {TARGET_FFMPEG_RATIO}x: {ratio:.2f}x, {verdict}")
    else:
        lines.append("- ffmpeg CLI not installed: only the floor is compared")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each contender (median)")
    parser.add_argument(
        "--duration", type=int, default=20, help="video length, s (at most 12 or a multiple of 10)"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="inputs and run outputs")
    args = parser.parse_args(argv)
    command = "python benchmarks/reencode.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    started = time.perf_counter()
    job = prepare_job(args.cache_dir, JobShape(args.duration))
    contenders, outputs = run_all(job, args.cache_dir / "runs" / f"reencode-{args.duration}s", args.repeat)
    machine["load_end"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    psnr = {name: psnr_db(path, job.inputs.video_path) for name, path in outputs.items()}
    print()
    print(format_report(contenders, psnr, machine, command.strip()))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
