"""Batch benchmark: personalised rows of one 60 s 1080p30 template, videos per minute.

The template: the render benchmark's 60 s 1080p30 H.264 video, its music loop looped with 2 s
crossfades, two effects (1 s and 51 s), a personalised TTS greeting of 2-4 s at 1 s ("Hi NAME, …")
and a fixed TTS line at 40 s, both ducking the music. The rows are a CSV of names. Contenders, all
in one run, on the same rows:

- ``autovid-batch``: ``autovid batch TEMPLATE ROWS.csv`` (its process pool, one per core);
- ``api-batches``: ``autovid serve`` (embedded, its own data folder, real HTTP on 127.0.0.1) and one
  ``POST /batches`` of every row, until every job ended (``benchmarks/batch_service.py``);
- ``one-by-one``: ``autovid render`` per row spec, a fresh process each, segment cache off (a
  user's shell loop without reuse), on a sample of the rows, split in two halves run before and
  after the batch contenders; its rate is extrapolated to the whole batch;
- ``moviepy``: the MoviePy reference (``benchmarks/moviepy_reference.py``) on a few rows, speech
  pre-synthesized (not timed), extrapolated likewise.

Each contender gets a fresh speech cache and a fresh segment cache, so the first rows pay for
everything a real batch's first rows pay for. Reported: videos per minute, CPU-seconds per video,
peak RSS of the whole process tree (sampled sum), and whether the batch contenders' rows are
packet-identical to the same rows rendered alone. ``warm-loop`` (one process rendering every row
with one renderer, ``benchmarks/batch_child.py``) gives the per-stage split of a reused row; it
runs with ``--only warm-loop``.

    .venv/bin/python benchmarks/batch.py                    # 100 rows
    .venv/bin/python benchmarks/batch.py --rows 20 --one-by-one-rows 4 --moviepy-rows 1   # quicker
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.inputs import BenchInputs, JobShape, prepare, synthesize_speech
from benchmarks.measure import Run, python_command, run_measured
from benchmarks.render import DEFAULT_CACHE_DIR, compile_autovid, machine_info
from benchmarks.verify import video_packets_digest

BENCH_DIR = Path(__file__).resolve().parent
NAMES = ("Ann", "Bartholomew", "Chen", "Dolores", "Eve", "Fitzgerald", "Gus", "Henrietta", "Ivo", "Jo")
GREETING = "Hi {{name}}, this video was made for you."
FIXED_LINE = "Thanks for watching. See you next quarter."
TARGET_VIDEOS_PER_MIN = 200.0
TARGET_OVER_ONE_BY_ONE = 4.0
TARGET_PEAK_RSS_MB = 400.0


@dataclass(frozen=True)
class Rows:
    folder: Path  # the template's media, the template, the CSV and one spec file per row
    template: dict[str, Any]
    template_path: Path
    values: list[dict[str, str]]  # each row's variables
    specs: list[Path]  # each row's spec, the template filled in

    def first(self, count: int) -> Rows:
        return Rows(self.folder, self.template, self.template_path, self.values[:count], self.specs[:count])

    def csv_path(self, scratch: Path) -> Path:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["name", "row"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.values)
        path = scratch / "rows.csv"
        path.write_text(text.getvalue())
        return path


@dataclass
class Result:
    name: str
    rows: int  # rows rendered (a sample, for the extrapolated contenders)
    run: Run
    per_row: list[dict[str, object]] = field(default_factory=list)  # stage timings, when reported
    outputs: dict[int, Path] = field(default_factory=dict)  # row -> its MP4, where kept
    segments: int | None = None  # entries in its segment cache at the end
    load: list[float] = field(default_factory=list)  # 1-minute load average after each part

    @property
    def videos_per_min(self) -> float:
        return self.rows / self.run.wall_s * 60

    @property
    def cpu_per_video_s(self) -> float:
        return self.run.cpu_s / self.rows

    @property
    def peak_mb(self) -> float:
        return max(self.run.peak_rss_mb, self.run.peak_tree_rss_mb or 0.0)

    @property
    def pss_text(self) -> str:
        return "" if self.run.peak_tree_pss_mb is None else f"{self.run.peak_tree_pss_mb:.0f}"


def make_rows(inputs: BenchInputs, count: int) -> Rows:
    """The template (the benchmark job with a greeting naming the row's viewer), ``count`` rows
    of names (cycling, numbered so each is new) and each row's spec filled in."""
    spec = json.loads(inputs.spec_path.read_text())
    spec["timeline"] = [
        _tts(1.0, GREETING),
        {"start": 1.0, "type": "audio", "data": {"assetId": "whoosh", "volume": 0.6}},
        _tts(40.0, FIXED_LINE),
        {"start": 51.0, "type": "audio", "data": {"assetId": "impact", "volume": 0.8}},
    ]
    spec["output"]["filename"] = "row{{row}}.mp4"
    template = {
        "name": "bench-greeting",
        "variables": {"name": {"type": "string", "maxLength": 60}, "row": {"type": "string"}},
        "spec": spec,
    }
    template_path = inputs.folder / "batch-template.json"
    template_path.write_text(json.dumps(template, indent=1))
    values, specs = [], []
    for index in range(count):
        cycle = index // len(NAMES)
        name = NAMES[index % len(NAMES)] + (f" {cycle + 1}" if cycle else "")
        values.append({"name": name, "row": str(index)})
        text = json.dumps(spec).replace("{{name}}", name).replace("{{row}}", str(index))
        path = inputs.folder / f"batch-row{index}.json"
        path.write_text(text)
        specs.append(path)
    return Rows(inputs.folder, template, template_path, values, specs)


def _tts(start: float, text: str) -> dict[str, object]:
    data = {"text": text, "volume": 1.0, "duckingLevel": 0.2, "duckingFadeDuration": 0.5}
    return {"start": start, "type": "tts", "data": data}


def fresh_env(scratch: Path, *, segment_cache: bool) -> dict[str, str]:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    return {
        **os.environ,
        "AUTOVID_CACHE_DIR": str(scratch / "cache"),
        "AUTOVID_DATA_DIR": str(scratch / "data"),
        "AUTOVID_SEGMENT_CACHE_BYTES": str(256 * 1024**2 if segment_cache else 0),
        "AUTOVID_TTS_ENGINE": "espeak",
        "LOG_LEVEL": "WARNING",
    }


# --- contenders ------------------------------------------------------------------------------------


def autovid_batch(rows: Rows, scratch: Path) -> Result:
    """``autovid batch`` on the template and the CSV, as a user runs it."""
    env = fresh_env(scratch, segment_cache=True)
    out = scratch / "out"
    command = python_command(
        "-m", "autovid", "batch", str(rows.template_path), str(rows.csv_path(scratch)), "-o", str(out)
    )
    log_path = scratch / "run.log"
    run = run_measured(
        command, log_path=log_path, env=env, cwd=rows.folder, sample_tree=True, sample_pss=True
    )
    outputs = {i: out / f"row{i}.mp4" for i in range(len(rows.values))}
    name = "`autovid batch` (CLI, one process per core)"
    return Result(name, len(rows.values), run, outputs=outputs, segments=_segments(scratch))


def api_batches(rows: Rows, scratch: Path) -> Result:
    """``autovid serve`` + ``POST /batches``, until every row's job completed."""
    from benchmarks.batch_service import run_batch_over_http

    env = fresh_env(scratch, segment_cache=True)
    del env["AUTOVID_DATA_DIR"]  # the service process gets its own
    service_env = {k: v for k, v in env.items() if k.startswith(("AUTOVID_", "LOG_LEVEL"))}
    run = run_batch_over_http(rows.template, rows.values, rows.folder, scratch, service_env)
    outputs = {}
    for path in (scratch / "data").rglob("row*.mp4"):
        outputs[int(path.stem.removeprefix("row"))] = path
    name = "`autovid serve` + `POST /batches`"
    return Result(name, len(rows.values), run, outputs=outputs, segments=_segments(scratch))


def _segments(scratch: Path) -> int:
    """Entries in the segment cache the run left (the machine's, under its cache folder)."""
    return len(list((scratch / "cache" / "segments").glob("*.seg")))


def one_by_one(rows: Rows, scratch: Path) -> Result:
    """``autovid render`` per row in one shell-like loop, measured as one run."""
    env = fresh_env(scratch, segment_cache=False)
    outputs = {i: scratch / f"row{i}.mp4" for i in range(len(rows.specs))}
    script = " && ".join(
        shlex.join(python_command("-m", "autovid", "render", str(spec), "-o", str(outputs[i])))
        for i, spec in enumerate(rows.specs)
    )
    run = run_measured(["sh", "-c", script], log_path=scratch / "run.log", env=env, cwd=rows.folder)
    return Result("`autovid render` per row, no reuse", len(rows.specs), run, outputs=outputs)


def moviepy_rows(rows: Rows, scratch: Path) -> Result:
    """The MoviePy reference per row (its speech synthesized beforehand, not timed)."""
    env = fresh_env(scratch, segment_cache=False)
    commands = []
    for index, spec_path in enumerate(rows.specs):
        speech = synthesize_speech(json.loads(spec_path.read_text()), scratch / "speech")
        speech_args = [f"--speech={i}={path}" for i, path in speech.items()]
        script = BENCH_DIR / "moviepy_reference.py"
        commands.append(
            python_command(str(script), str(spec_path), str(scratch / f"row{index}.mp4"), *speech_args)
        )
    script = " && ".join(shlex.join(command) for command in commands)
    run = run_measured(
        ["sh", "-c", script], log_path=scratch / "run.log", env=env, cwd=rows.folder, sample_tree=True
    )
    return Result("MoviePy 2 reference per row", len(rows.specs), run)


def warm_loop(rows: Rows, scratch: Path) -> Result:
    """Every row in one process, one renderer (``batch_child.py``): the per-stage split."""
    env = fresh_env(scratch, segment_cache=True)
    command = python_command(str(BENCH_DIR / "batch_child.py"), str(scratch / "out"), *map(str, rows.specs))
    log_path = scratch / "run.log"
    run = run_measured(command, log_path=log_path, env=env, cwd=rows.folder)
    per_row = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return Result("warm loop (one process, one renderer)", len(rows.specs), run, per_row=per_row)


Contender = Callable[[Rows, Path], Result]


@dataclass(frozen=True)
class Step:
    key: str  # the contender's name on the command line
    run: Contender
    rows: Rows
    part: int = 0  # sampled contenders run in parts, interleaved with the others


def schedule(rows: Rows, args: argparse.Namespace) -> list[Step]:
    """The run's order: half the one-by-one sample, the two batch contenders, the other half,
    then MoviePy (the longest by far)."""
    sample = min(args.one_by_one_rows, len(rows.specs))
    half = max(1, sample // 2)
    first, second = (
        rows.first(half),
        Rows(
            rows.folder, rows.template, rows.template_path, rows.values[half:sample], rows.specs[half:sample]
        ),
    )
    steps = [Step("one-by-one", one_by_one, first, 0)]
    steps += [Step("autovid-batch", autovid_batch, rows), Step("api-batches", api_batches, rows)]
    steps += [Step("one-by-one", one_by_one, second, 1)] if second.specs else []
    steps += [Step("moviepy", moviepy_rows, rows.first(args.moviepy_rows))] if args.moviepy_rows else []
    steps += [Step("warm-loop", warm_loop, rows)] if "warm-loop" in args.only else []
    return [step for step in steps if not args.only or step.key in args.only]


def merged(parts: list[Result]) -> Result:
    """A sampled contender's parts as one result: times summed, the larger peak."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    wall = sum(p.run.wall_s for p in parts)
    cpu = sum(p.run.cpu_s for p in parts)
    peak = max(p.run.peak_rss_mb for p in parts)
    tree = max((p.run.peak_tree_rss_mb or 0.0) for p in parts) or None
    pss = max((p.run.peak_tree_pss_mb or 0.0) for p in parts) or None
    top = max(parts, key=lambda p: p.run.peak_tree_rss_mb or 0.0)
    run = Run(wall, peak, tree, cpu, 0, first.run.log_path, pss, top.run.peak_tree_parts)
    outputs: dict[int, Path] = {}
    offset = 0
    for part in parts:
        outputs.update({offset + i: path for i, path in part.outputs.items()})
        offset += part.rows
    loads = [load for part in parts for load in part.load]
    return Result(first.name, sum(p.rows for p in parts), run, outputs=outputs, load=loads)


# --- checks and report -----------------------------------------------------------------------------


def identical_rows(result: Result, alone: Result) -> tuple[int, int]:
    """(rows compared, rows whose audio and video packets equal the row rendered alone)."""
    same = compared = 0
    for row, path in alone.outputs.items():
        other = result.outputs.get(row)
        if other is None or not other.exists() or not path.exists():
            continue
        compared += 1
        same += _packets(other) == _packets(path)
    return compared, same


def _packets(path: Path) -> tuple[tuple[int, str], tuple[int, str]]:
    return video_packets_digest(path), _audio_packets_digest(path)


def _audio_packets_digest(path: Path) -> tuple[int, str]:
    import hashlib

    import av

    digest, count = hashlib.sha256(), 0
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
                count += 1
    return count, digest.hexdigest()[:16]


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


def format_report(
    results: dict[str, Result], total_rows: int, machine: dict[str, str], command: str, checks: list[str]
) -> str:
    lines = [
        f"Command: `{command}` (from the repository root), commit {machine['commit']}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; load average {machine['load']} at the "
        f"start, {machine['load_end']} at the end (shared machine: figures are noisy).",
        "",
        "| contender | rows run | wall, s | videos / min | CPU-s / video | peak RSS, MB | PSS | load after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        extrapolated = r.rows < total_rows
        note = (
            f" ({total_rows} rows: {r.run.wall_s / r.rows * total_rows:.0f} s extrapolated)"
            if extrapolated
            else ""
        )
        lines.append(
            f"| {r.name} | {r.rows} | {r.run.wall_s:.1f}{note} | {r.videos_per_min:.1f} | "
            f"{r.cpu_per_video_s:.2f} | {r.peak_mb:.0f} | {r.pss_text} | "
            f"{' / '.join(f'{v:.1f}' for v in r.load)} |"
        )
    lines += ["", *verdicts(results), *checks]
    for r in results.values():
        if r.per_row:
            split = ", ".join(f"{stage} {s:.3f} s" for stage, s in stage_split(r.per_row).items())
            lines += ["", f"{r.name}, a reused row (median of rows 2..{r.rows}): {split}"]
    return "\n".join(lines)


def verdicts(results: dict[str, Result]) -> list[str]:
    lines = []
    alone = results.get("one-by-one")
    for key in ("autovid-batch", "api-batches"):
        r = results.get(key)
        if r is None:
            continue
        checks = [
            (
                f"{r.videos_per_min:.0f} videos/min >= {TARGET_VIDEOS_PER_MIN:.0f}",
                r.videos_per_min >= TARGET_VIDEOS_PER_MIN,
            )
        ]
        if alone is not None:
            ratio = r.videos_per_min / alone.videos_per_min
            checks.append(
                (f"{ratio:.1f}x one by one >= {TARGET_OVER_ONE_BY_ONE:.0f}x", ratio >= TARGET_OVER_ONE_BY_ONE)
            )
        checks.append(
            (f"peak RSS {r.peak_mb:.0f} MB <= {TARGET_PEAK_RSS_MB:.0f} MB", r.peak_mb <= TARGET_PEAK_RSS_MB)
        )
        if r.run.peak_tree_pss_mb is not None:
            pss = r.run.peak_tree_pss_mb
            checks.append(
                (f"peak PSS {pss:.0f} MB <= {TARGET_PEAK_RSS_MB:.0f} MB", pss <= TARGET_PEAK_RSS_MB)
            )
        verdict = "; ".join(f"{text} {'PASS' if ok else '**FAIL**'}" for text, ok in checks)
        lines.append(f"- {r.name}: {verdict}")
        if r.run.peak_tree_parts:
            lines.append(f"  - the RSS peak, {r.run.peak_tree_parts}")
    if alone is not None and (moviepy := results.get("moviepy")) is not None:
        lines.append(
            f"- `autovid render` one by one / MoviePy: {alone.videos_per_min / moviepy.videos_per_min:.1f}x "
            "the videos per minute"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--one-by-one-rows", type=int, default=10, help="rows `autovid render` renders")
    parser.add_argument("--moviepy-rows", type=int, default=3, help="rows MoviePy renders (0: none)")
    parser.add_argument("--only", action="append", default=[], help="run only these contenders (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="inputs and run outputs")
    args = parser.parse_args(argv)
    command = "python benchmarks/batch.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    started = time.perf_counter()
    inputs = prepare(args.cache_dir, JobShape(60))
    rows = make_rows(inputs, args.rows)
    compile_autovid()
    parts: dict[str, list[Result]] = {}
    for step in schedule(rows, args):
        scratch = (args.cache_dir / "runs" / f"batch-{step.key}-{step.part}").resolve()
        result = step.run(step.rows, scratch)
        load = os.getloadavg()[0]
        result.load.append(load)
        print(
            f"  {step.key:<14} {result.rows:4d} rows {result.run.wall_s:7.1f} s "
            f"{result.videos_per_min:6.1f} videos/min {result.cpu_per_video_s:5.2f} CPU-s/video "
            f"{result.peak_mb:5.0f} MB (load {load:.1f}"
            + (f", {result.segments} segments cached)" if result.segments is not None else ")"),
            flush=True,
        )
        parts.setdefault(step.key, []).append(result)
    results = {key: merged(found) for key, found in parts.items()}
    checks = []
    if "one-by-one" in results:
        for key in ("autovid-batch", "api-batches"):
            if key in results:
                compared, same = identical_rows(results[key], results["one-by-one"])
                checks.append(
                    f"- {results[key].name}: {same} of {compared} rows packet-identical to the "
                    "row rendered alone"
                )
    machine["load_end"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    print()
    print(format_report(results, len(rows.specs), machine, command.strip(), checks))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
