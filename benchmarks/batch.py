"""Batch benchmark: personalised rows of one 60 s 1080p30 template, videos per minute.

The template: the render benchmark's 60 s 1080p30 H.264 video, its music loop looped with 2 s
crossfades, two effects (1 s and 51 s), a personalised TTS greeting of 2-4 s at 1 s ("Hi NAME, …")
and a fixed TTS line at 40 s, both ducking the music. Every row is one spec file (the template
with its own name). Contenders, each run on the same rows in the same run:

- ``one-by-one``: ``autovid render`` per row, a fresh process each, segment cache off (what a
  user's shell loop costs without reuse);
- ``warm-loop``: one process rendering every row with one renderer and one segment cache
  (``benchmarks/batch_child.py``), the cache empty at the start of the run;
- ``autovid-batch`` and ``api-batches`` (``autovid batch``, ``autovid serve`` + ``POST
  /batches``) plug in as further ``Contender`` entries in ``contenders()`` once they exist.

Each contender gets a fresh speech cache and a fresh segment cache, so the first row pays for
everything a real batch's first row pays for. Reported: videos per minute, CPU-seconds per video,
peak RSS, and for the warm loop the per-stage split of a reused row (rows 2..N).

    .venv/bin/python benchmarks/batch.py                    # 100 rows
    .venv/bin/python benchmarks/batch.py --rows 20 --one-by-one-rows 5   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.inputs import BenchInputs, JobShape, prepare
from benchmarks.measure import Run, python_command, run_measured
from benchmarks.render import DEFAULT_CACHE_DIR, compile_autovid, machine_info

BENCH_DIR = Path(__file__).resolve().parent
NAMES = ("Ann", "Bartholomew", "Chen", "Dolores", "Eve", "Fitzgerald", "Gus", "Henrietta", "Ivo", "Jo")
GREETING = "Hi {name}, this video was made for you."
FIXED_LINE = "Thanks for watching. See you next quarter."
TARGET_VIDEOS_PER_MIN = 200.0


@dataclass(frozen=True)
class Rows:
    folder: Path
    specs: list[Path]


@dataclass
class Result:
    name: str
    rows: int
    run: Run
    per_row: list[dict[str, object]]  # per-row timings, when the contender reports them

    @property
    def videos_per_min(self) -> float:
        return self.rows / self.run.wall_s * 60

    @property
    def cpu_per_video_s(self) -> float:
        return self.run.cpu_s / self.rows


def make_rows(inputs: BenchInputs, count: int) -> Rows:
    """``count`` row specs beside the template's media (names cycle, numbered so each is new)."""
    template = json.loads(inputs.spec_path.read_text())
    template["timeline"] = [
        _tts(1.0, GREETING),
        {"start": 1.0, "type": "audio", "data": {"assetId": "whoosh", "volume": 0.6}},
        _tts(40.0, FIXED_LINE),
        {"start": 51.0, "type": "audio", "data": {"assetId": "impact", "volume": 0.8}},
    ]
    specs = []
    for index in range(count):
        name = (
            f"{NAMES[index % len(NAMES)]} {index // len(NAMES) + 1}" if index >= len(NAMES) else NAMES[index]
        )
        row = json.loads(json.dumps(template))
        row["timeline"][0]["data"]["text"] = GREETING.format(name=name)
        row["output"]["filename"] = f"row{index}.mp4"
        path = inputs.folder / f"batch-row{index}.json"
        path.write_text(json.dumps(row, indent=1))
        specs.append(path)
    return Rows(inputs.folder, specs)


def _tts(start: float, text: str) -> dict[str, object]:
    data = {"text": text, "volume": 1.0, "duckingLevel": 0.2, "duckingFadeDuration": 0.5}
    return {"start": start, "type": "tts", "data": data}


def fresh_env(scratch: Path, *, segment_cache: bool) -> dict[str, str]:
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        **os.environ,
        "AUTOVID_CACHE_DIR": str(scratch / "cache"),
        "AUTOVID_DATA_DIR": str(scratch / "data"),
        "AUTOVID_SEGMENT_CACHE_BYTES": str(256 * 1024**2 if segment_cache else 0),
        "AUTOVID_TTS_ENGINE": "espeak",
        "LOG_LEVEL": "WARNING",
    }


def one_by_one(rows: Rows, scratch: Path) -> Result:
    """``autovid render`` per row in one shell-like loop, measured as one run."""
    env = fresh_env(scratch, segment_cache=False)
    script = " && ".join(
        shlex.join(python_command("-m", "autovid", "render", str(spec), "-o", str(scratch / f"row{i}.mp4")))
        for i, spec in enumerate(rows.specs)
    )
    run = run_measured(["sh", "-c", script], log_path=scratch.with_suffix(".log"), env=env, cwd=rows.folder)
    return Result("one-by-one (autovid render per row, no reuse)", len(rows.specs), run, [])


def warm_loop(rows: Rows, scratch: Path) -> Result:
    env = fresh_env(scratch, segment_cache=True)
    command = python_command(str(BENCH_DIR / "batch_child.py"), str(scratch / "out"), *map(str, rows.specs))
    log_path = scratch.with_suffix(".log")
    run = run_measured(command, log_path=log_path, env=env, cwd=rows.folder)
    per_row = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return Result("warm loop (one process, one segment cache)", len(rows.specs), run, per_row)


Contender = Callable[[Rows, Path], Result]


def contenders(one_by_one_rows: int) -> dict[str, tuple[Contender, int | None]]:
    """name -> (run it, how many of the rows it renders; None: all). ``autovid batch`` and
    ``POST /batches`` are added here as they land."""
    return {"one-by-one": (one_by_one, one_by_one_rows), "warm-loop": (warm_loop, None)}


def stage_split(per_row: list[dict[str, object]]) -> dict[str, float]:
    """Median stage timings of the reused rows (every row after the first)."""
    reused = per_row[1:] or per_row
    stages: dict[str, list[float]] = {}
    for row in reused:
        for stage, seconds in dict(row["timings_s"]).items():  # type: ignore[call-overload]
            stages.setdefault(stage, []).append(float(seconds))
    walls = [float(row["wall_s"]) for row in reused]  # type: ignore[arg-type]
    return {
        **{stage: statistics.median(v) for stage, v in stages.items()},
        "row wall": statistics.median(walls),
    }


def format_report(results: list[Result], machine: dict[str, str], command: str) -> str:
    lines = [
        f"Command: `{command}` (from the repository root)",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; load average {machine['load']} at the "
        f"start, {machine['load_end']} at the end (shared machine: figures are noisy).",
        "",
        "| contender | rows | wall, s | videos / min | CPU-s / video | peak RSS, MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.rows} | {r.run.wall_s:.1f} | {r.videos_per_min:.0f} | "
            f"{r.cpu_per_video_s:.2f} | {r.run.peak_rss_mb:.0f} |"
        )
    by_name = {r.name.split(" ")[0]: r for r in results}
    if "one-by-one" in by_name and "warm" in by_name:
        speedup = by_name["warm"].videos_per_min / by_name["one-by-one"].videos_per_min
        lines += ["", f"warm loop / one by one: {speedup:.1f}x the videos per minute"]
    for r in results:
        if r.per_row:
            split = ", ".join(f"{stage} {s:.3f} s" for stage, s in stage_split(r.per_row).items())
            lines += ["", f"{r.name}, a reused row (median of rows 2..{r.rows}): {split}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument(
        "--one-by-one-rows", type=int, default=None, help="rows for one-by-one (default: all)"
    )
    parser.add_argument("--only", action="append", default=[], help="run only these contenders (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="inputs and run outputs")
    args = parser.parse_args(argv)
    command = "python benchmarks/batch.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    started = time.perf_counter()
    inputs = prepare(args.cache_dir, JobShape(60))
    rows = make_rows(inputs, args.rows)
    compile_autovid()
    results = []
    for name, (run, count) in contenders(args.one_by_one_rows or args.rows).items():
        if args.only and name not in args.only:
            continue
        subset = Rows(rows.folder, rows.specs[: count or len(rows.specs)])
        result = run(subset, (args.cache_dir / "runs" / f"batch-{name}").resolve())
        rate = result.videos_per_min
        print(f"  {name:<12} {result.rows} rows {result.run.wall_s:7.1f} s  {rate:6.0f} videos/min")
        results.append(result)
    machine["load_end"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    print()
    print(format_report(results, machine, command.strip()))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
