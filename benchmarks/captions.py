"""Captions benchmark: the render job with and without captions, measured side by side.

- ``captions``: SRT + WebVTT sidecars and the mov_text track, on the fast path (video copied);
  target within 1.05x of the same job without captions.
- ``burn-in``: the captions drawn into every frame and the video encoded once; target within 1.15x
  of the plain re-encode of the same job (``encoding.fps`` set to the video's rate, so it encodes).

Runs are interleaved (plain, captioned, plain, …) after one warm-up each, which also fills the
speech cache for both (captioned speech is cached with its word timings under its own key).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.inputs import BenchInputs
from benchmarks.measure import run_measured

TARGET_CAPTIONS_RATIO = 1.05
TARGET_BURN_IN_RATIO = 1.15
CAPTIONS = {"formats": ["srt", "vtt"], "track": True, "language": "en-US"}
BURN_IN = {"highlightColor": "#FFD400", "backgroundOpacity": 0.45}


@dataclass(frozen=True)
class Pair:
    label: str
    baseline: str
    baseline_s: float
    captioned_s: float
    target: float
    baseline_cpu_s: float = 0.0
    captioned_cpu_s: float = 0.0

    @property
    def ratio(self) -> float:
        return self.captioned_s / self.baseline_s

    @property
    def cpu_ratio(self) -> float:
        """CPU time is the steadier figure on a machine shared with other work."""
        return self.captioned_cpu_s / self.baseline_cpu_s if self.baseline_cpu_s else float("nan")


def variant_specs(inputs: BenchInputs, *, burn_in: bool) -> dict[str, Path]:
    """The job's spec and its captioned variants, written beside it (asset paths stay valid)."""
    spec = json.loads(inputs.spec_path.read_text())
    variants: dict[str, dict[str, Any]] = {"plain": spec, "captions": _with(spec, captions=CAPTIONS)}
    if burn_in:
        encode = {**spec["output"].get("encoding", {}), "fps": 30}
        variants["re-encode"] = _with(spec, encoding=encode)
        variants["burn-in"] = _with(spec, encoding=encode, captions={**CAPTIONS, "burnIn": BURN_IN})
    paths = {}
    for name, body in variants.items():
        path = inputs.spec_path.with_name(f"{inputs.spec_path.stem}-{name}.json")
        path.write_text(json.dumps(body))
        paths[name] = path
    return paths


def _with(spec: dict[str, Any], **output: Any) -> dict[str, Any]:
    return {**spec, "output": {**spec["output"], **output}}


def run_captions_suite(
    inputs: BenchInputs,
    *,
    out_dir: Path,
    env: dict[str, str],
    command: Callable[[Path, Path], list[str]],
    repeat: int,
    burn_in: bool,
    burn_in_repeat: int = 1,
    log: Callable[[str], None] = print,
) -> list[Pair]:
    specs = variant_specs(inputs, burn_in=burn_in)
    out_dir.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in specs}

    def measured(name: str, attempt: str) -> tuple[float, float]:
        output = out_dir / f"{name}.mp4"
        output.unlink(missing_ok=True)
        run = run_measured(
            command(specs[name], output), log_path=out_dir / f"{name}-{attempt}.log", cwd=out_dir, env=env
        )
        log(f"  {name:<10} {attempt:<7} {run.wall_s:7.2f} s cpu {run.cpu_s:6.2f} s {run.peak_rss_mb:6.1f} MB")
        return run.wall_s, run.cpu_s

    for name in ("plain", "captions"):  # fills the speech cache for every variant
        measured(name, "warmup")
    for attempt in range(1, repeat + 1):
        for name in ("plain", "captions"):
            times[name].append(measured(name, f"run{attempt}"))
    for attempt in range(1, (burn_in_repeat if burn_in else 0) + 1):  # minutes each at 1080p
        for name in ("re-encode", "burn-in"):
            times[name].append(measured(name, f"run{attempt}"))
    wall = {name: statistics.median(w for w, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}

    def pair(label: str, baseline: str, variant: str, target: float) -> Pair:
        return Pair(label, baseline, wall[baseline], wall[variant], target, cpu[baseline], cpu[variant])

    pairs = [pair("captions (sidecars + track)", "plain", "captions", TARGET_CAPTIONS_RATIO)]
    if burn_in:
        pairs.append(pair("burn-in", "re-encode", "burn-in", TARGET_BURN_IN_RATIO))
    return pairs


def format_pairs(pairs: list[Pair], shape: str) -> str:
    lines = [
        f"### Captions ({shape})",
        "",
        "| job | baseline | wall s (base / with) | ratio | CPU s (base / with) | CPU ratio | target |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in pairs:
        verdict = "ok" if p.ratio <= p.target else "MISSED"
        lines.append(
            f"| {p.label} | {p.baseline} | {p.baseline_s:.2f} / {p.captioned_s:.2f} | {p.ratio:.3f}x | "
            f"{p.baseline_cpu_s:.2f} / {p.captioned_cpu_s:.2f} | {p.cpu_ratio:.3f}x | "
            f"≤ {p.target:.2f}x ({verdict}) |"
        )
    return "\n".join(lines)
