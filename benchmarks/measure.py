"""Wall time and peak memory of one child process (and its own children).

Each contender runs in a fresh process started by a tiny launcher (``spawn.py``) that times it
and reads its ``ru_maxrss`` from ``os.wait4``: the kernel's exact high-water mark of resident
memory, which Linux folds together with that of the descendants it waited for as a *maximum*,
not a sum. Contenders that run several processes at once (MoviePy drives two ffmpeg processes)
are also sampled with psutil to get the peak of the tree's summed RSS.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

KIB = 1024
MIB = 1024 * 1024
SPAWN_SCRIPT = Path(__file__).resolve().with_name("spawn.py")


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    peak_rss_mb: float  # ru_maxrss: the largest single process of the tree
    peak_tree_rss_mb: float | None  # sampled sum over the tree, when sampling was on
    cpu_s: float  # user + system time of the child and its waited-for descendants
    returncode: int
    log_path: Path
    peak_tree_pss_mb: float | None = None  # sampled sum of proportional set sizes, when asked
    peak_tree_parts: str = ""  # what the sampled tree peak was made of (``_TreeSampler.peak_parts``)


@dataclass
class Contender:
    """Repeated runs of one contender and their medians."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(run.peak_rss_mb for run in self.runs)

    @property
    def peak_tree_rss_mb(self) -> float | None:
        values = [run.peak_tree_rss_mb for run in self.runs if run.peak_tree_rss_mb is not None]
        return statistics.median(values) if values else None

    @property
    def peak_memory_mb(self) -> float:
        """The larger of the exact single-process peak and the sampled whole-tree peak."""
        return max(self.peak_rss_mb, self.peak_tree_rss_mb or 0.0)

    @property
    def cpu_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)


class ChildFailed(RuntimeError):
    def __init__(self, command: Sequence[str], run: Run) -> None:
        tail = run.log_path.read_text(errors="replace")[-3000:] if run.log_path.exists() else ""
        super().__init__(f"{' '.join(command)} exited with {run.returncode}; log {run.log_path}:\n{tail}")
        self.run = run


def run_measured(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    sample_tree: bool = False,
    sample_interval_s: float = 0.05,
    sample_pss: bool = False,
) -> Run:
    """Run ``command`` to completion through the small launcher (``spawn.py``) and measure it;
    raise ChildFailed on a non-zero exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path = log_path.with_name(log_path.name + ".json")
    result_path.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", str(SPAWN_SCRIPT), str(result_path), "--", *command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            launcher, stdout=log, stderr=subprocess.STDOUT, env=dict(env) if env else None, cwd=cwd
        )
        sampler = _TreeSampler(process.pid, sample_interval_s, pss=sample_pss) if sample_tree else None
        returncode = process.wait()
    tree_peak_mb = sampler.stop() if sampler else None
    try:
        measured = json.loads(result_path.read_text())
    except (OSError, ValueError):
        measured = {"wall_s": math.nan, "maxrss_kib": 0, "cpu_s": math.nan, "exit_code": returncode or 1}
    run = Run(
        wall_s=measured["wall_s"],
        peak_rss_mb=measured["maxrss_kib"] * KIB / MIB,  # ru_maxrss is in KiB on Linux
        peak_tree_rss_mb=tree_peak_mb,
        cpu_s=measured["cpu_s"],
        returncode=measured["exit_code"],
        log_path=log_path,
        peak_tree_pss_mb=sampler.peak_pss_mb if sampler and sample_pss else None,
        peak_tree_parts=sampler.peak_parts if sampler else "",
    )
    if run.returncode != 0:
        raise ChildFailed(command, run)
    return run


class _TreeSampler:
    """Polls the summed RSS of a process and its descendants in a background thread; with
    ``pss`` also their summed PSS (each shared page divided among the processes mapping it: the
    shared libraries of several workers, and a child between fork and exec, are counted once).

    The sampler runs on the cores it measures, so it keeps its own cost small: an RSS is one
    read of ``statm``, but listing the tree scans every process on the machine and a PSS walks a
    process's page tables (measured ~2 ms and ~1 ms a process: at every sample, a fifth of a core
    taken from a service under test). So the tree is listed every ``TREE_EVERY``-th sample, and
    the PSS is read then and whenever the RSS reaches a new peak."""

    TREE_EVERY = 10

    def __init__(self, pid: int, interval_s: float, *, include_root: bool = False, pss: bool = False) -> None:
        self._root = psutil.Process(pid)
        self._include_root = include_root
        self._pss = pss
        self._interval_s = interval_s
        self._peak_bytes = 0
        self._peak_pss_bytes = 0
        self._started = time.monotonic()
        self._peak_parts: list[tuple[str, int]] = []
        self._peak_at_s = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        tree: list[psutil.Process] = []
        for tick in itertools.count():
            if self._done.is_set():
                return
            fresh = tick % self.TREE_EVERY == 0
            if fresh:
                tree = self._tree()
            parts = self._sizes(tree, _own_rss)
            rss = sum(size for _, size in parts)
            new_peak, self._peak_bytes = rss > self._peak_bytes, max(self._peak_bytes, rss)
            if new_peak:  # named now: by the end of the run the processes are gone
                self._peak_parts = [(_short_name(process), size) for process, size in parts]
                self._peak_at_s = time.monotonic() - self._started
            if self._pss and (fresh or new_peak):
                pss = self._sum(tree, lambda process: process.memory_full_info().pss)
                self._peak_pss_bytes = max(self._peak_pss_bytes, pss)
            self._done.wait(self._interval_s)

    def _tree(self) -> list[psutil.Process]:
        """The processes measured: the launcher itself (a few MB) is left out, unless it is the
        measured process."""
        try:
            tree = self._root.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return []
        return [self._root, *tree] if self._include_root else tree

    @staticmethod
    def _sizes(
        tree: list[psutil.Process], size: Callable[[psutil.Process], int]
    ) -> list[tuple[psutil.Process, int]]:
        sizes = []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                sizes.append((process, size(process)))  # unless it ended since the tree was listed
        return sizes

    @classmethod
    def _sum(cls, tree: list[psutil.Process], size: Callable[[psutil.Process], int]) -> int:
        return sum(value for _, value in cls._sizes(tree, size))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self._peak_bytes / MIB

    @property
    def peak_pss_mb(self) -> float:
        return self._peak_pss_bytes / MIB

    @property
    def peak_parts(self) -> str:
        """The processes of the RSS peak and their RSS, when it was sampled: a peak that is one
        process more than the rest of the run (a child between fork and exec counts its parent's
        pages again) shows here."""
        parts = ", ".join(f"{name} {size / MIB:.0f}" for name, size in self._peak_parts)
        return f"at {self._peak_at_s:.1f} s: {parts} (MB)" if parts else ""


def _own_rss(process: psutil.Process) -> int:
    """The process's RSS; 0 for a child between fork and exec (its command line still its
    parent's), whose pages are its parent's: a worker starting espeak-ng would otherwise count
    the worker twice for that instant (PSS, read beside, divides such pages anyway)."""
    parent = process.parent()
    if parent is not None and process.cmdline() == parent.cmdline():
        return 0
    return process.memory_info().rss


_ROLES = (("multiprocessing.spawn", "worker"), ("multiprocessing.resource_tracker", "tracker"))


def _short_name(process: psutil.Process) -> str:
    """A process's pid and what it runs, in a few words (``autovid batch``, a pool worker)."""
    try:
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return f"{process.pid} (ended)"
    for module, role in _ROLES:
        if module in command:
            return f"{process.pid} {role}"
    words = [Path(word).name if "/" in word else word for word in command.split()[:4]]
    return f"{process.pid} {' '.join(words)[:40]}"


def python_command(*args: str) -> list[str]:
    """A command running this interpreter (the project's virtual environment)."""
    return [sys.executable, *args]
