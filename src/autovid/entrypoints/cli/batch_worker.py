"""The worker side of ``autovid batch``: each process builds one renderer and renders rows with it.

Runs in child processes (``spawn``), so it imports only what a render needs; the parent hands
each row over as its raw spec and the file to write.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autovid.config import Settings
from autovid.errors import AutovidError
from autovid.files import drop_from_page_cache

_renderer: Callable[..., Any] | None = None
# Frees each finished output's cached pages while the next row renders (its thread starts at
# the first submit).
_dropping = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-cache")
_settings: Settings | None = None
_setup_error: str | None = None


@dataclass(frozen=True)
class RowJob:
    row: int
    spec: dict[str, Any]
    output_path: Path


@dataclass(frozen=True)
class RowResult:
    row: int
    output_path: Path
    error: str | None = None
    seconds: float = 0.0
    duration_s: float = 0.0
    size_bytes: int = 0


def init_worker(base_dir: Path, allowed_roots: Sequence[Path]) -> None:
    """Process initializer: the renderer every row of this process reuses. A failure here is
    kept and reported by every row (a failing initializer would only say the pool broke)."""
    from autovid.bootstrap import build_renderer, render_reuse
    from autovid.entrypoints.memory import limit_malloc_arenas

    global _renderer, _settings, _setup_error
    limit_malloc_arenas()  # the whole batch, every worker, within its memory budget
    try:
        _settings = Settings()
        reuse = render_reuse(_settings, cli=True)  # segments on disk, sources and probes in memory
        _renderer = build_renderer(_settings, base_dir=base_dir, allowed_roots=allowed_roots, reuse=reuse)
    except Exception as exc:
        _setup_error = f"the renderer could not be set up: {exc}"


def ready() -> None:
    """Nothing: submitted to start a process (its ``init_worker``) before it has a row to render."""


def render_row(job: RowJob) -> RowResult:
    """Render one row's spec to its file (written under a temporary name, then moved into place).
    Never raises: a failure is the row's result."""
    from autovid.entrypoints.memory import release_free_memory

    try:
        return _rendered(job)
    finally:
        release_free_memory()  # what this row freed, not kept through the next one


def _rendered(job: RowJob) -> RowResult:
    from autovid.spec.validation import parse_spec

    if _renderer is None or _settings is None:
        return RowResult(job.row, job.output_path, _setup_error or "init_worker() was not called")
    started = time.perf_counter()
    partial = job.output_path.with_name(f".{job.output_path.stem}.{os.getpid()}.partial.mp4")
    try:
        spec = parse_spec(job.spec, _settings.spec_limits)
        with tempfile.TemporaryDirectory(prefix="autovid-batch-") as workdir:
            result = _renderer(spec, output_path=partial, workdir=Path(workdir))
        partial.replace(job.output_path)
        _dropping.submit(_drop_quietly, job.output_path)
    except AutovidError as exc:
        partial.unlink(missing_ok=True)
        return RowResult(job.row, job.output_path, exc.message, time.perf_counter() - started)
    except Exception as exc:  # one row's bug must not stop the batch; its trace goes with it
        partial.unlink(missing_ok=True)
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return RowResult(
            job.row, job.output_path, f"unexpected error: {detail}", time.perf_counter() - started
        )
    return RowResult(
        job.row,
        job.output_path,
        None,
        time.perf_counter() - started,
        result.duration_s,
        job.output_path.stat().st_size,
    )


def _drop_quietly(path: Path) -> None:
    with suppress(OSError):  # moved or deleted meanwhile: nothing to free
        drop_from_page_cache(path)
