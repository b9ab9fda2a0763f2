"""``autovid batch``: a template rendered for every row of a CSV, on this machine, on all cores.

Every row is substituted and checked first (``--dry-run`` stops there); the valid rows are then
rendered by a pool of processes, each reusing one renderer. Remote assets that several rows share
(the template's own video and music, typically) are fetched once, before the pool starts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from autovid.config import Settings
from autovid.entrypoints.cli import app
from autovid.errors import ErrorDetail, SpecError

if TYPE_CHECKING:  # the template layer and the row workers load only when a batch runs
    from concurrent.futures import Future

    from autovid.entrypoints.cli.batch_worker import RowJob, RowResult
    from autovid.templates import RowOutcome, Template

console = Console(stderr=True, highlight=False)


@app.command()
def batch(
    template_path: Path = typer.Argument(
        ..., metavar="TEMPLATE", help="template (JSON); relative asset paths are read from its folder"
    ),
    rows_path: Path = typer.Argument(
        ..., metavar="ROWS", help="rows: CSV whose header names the variables (or a JSON array)"
    ),
    output_dir: Path = typer.Option(
        Path("out"), "-o", "--output-dir", metavar="DIR", help="folder the videos go to"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row, render nothing"),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="render processes (default: one per core)"
    ),
    allow_root: list[Path] = typer.Option(
        [], "--allow-root", help="extra folder local asset paths may be read from (repeatable)"
    ),
) -> None:
    """Render a template for every row of ROWS into DIR/<the row's output.filename>."""
    # Imported here: the help lists commands in import order, the service's after this one.
    from autovid.entrypoints.cli.service import load_settings
    from autovid.templates import expand_rows

    settings = load_settings()
    template = _load_template(template_path, settings)
    outcomes = expand_rows(
        template,
        _load_rows(template, rows_path),
        limits=settings.spec_limits,
        allow_private=settings.allow_private_urls,
    )
    invalid = [outcome for outcome in outcomes if not outcome.ok]
    _print_invalid(invalid)
    if dry_run:
        style = "red" if invalid else "green"
        valid = len(outcomes) - len(invalid)
        console.print(f"[{style}]{valid} of {len(outcomes)} rows valid[/{style}] (dry run: nothing rendered)")
        raise typer.Exit(1 if invalid else 0)
    roots = [template_path.parent, Path.cwd(), *allow_root]
    started = time.perf_counter()
    results = render_rows(outcomes, settings, template_path.parent, roots, output_dir, workers)
    _print_summary(len(outcomes), results, len(invalid), time.perf_counter() - started)
    for result in sorted(results, key=lambda r: r.row):
        if not result.error:
            typer.echo(str(result.output_path))
    failed = [result for result in results if result.error]
    if failed or invalid:
        _print_failed(failed, invalid)
        raise typer.Exit(1)


def render_rows(
    outcomes: list[RowOutcome],
    settings: Settings,
    base_dir: Path,
    roots: list[Path],
    output_dir: Path,
    workers: int | None,
) -> list[RowResult]:
    """Render the valid rows into ``output_dir``; their shared remote assets are fetched first."""
    from autovid.entrypoints.cli.batch_assets import fetch_shared_assets
    from autovid.entrypoints.cli.batch_worker import RowJob

    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    base_dir, roots = base_dir.resolve(), [root.resolve() for root in roots]
    jobs = [RowJob(o.row, o.spec, output_dir / str(o.filename)) for o in outcomes if o.spec is not None]
    with tempfile.TemporaryDirectory(prefix=".autovid-shared-", dir=output_dir) as shared_dir:
        shared = fetch_shared_assets(jobs, settings, base_dir, roots, Path(shared_dir), console)
        rendered = run_pool(shared.jobs, shared.roots, base_dir, workers) if shared.jobs else []
    return shared.failed + rendered


def _load_template(path: Path, settings: Settings) -> Template:
    try:
        from autovid.templates import parse_template

        return parse_template(_read(path), settings.spec_limits)
    except SpecError as exc:
        _print_errors(f"{path}: {len(exc.errors)} problem(s)", exc)
        raise typer.Exit(1) from None


def _load_rows(template: Template, path: Path) -> list[dict[str, Any]]:
    raw = _read(path)
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(raw)
            if not isinstance(rows, list):
                raise SpecError([ErrorDetail("$", "a JSON rows file is an array of objects")])
            return rows
        from autovid.templates import rows_from_csv

        return rows_from_csv(template, raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        console.print(f"[red]{escape(f'{path}: not readable: {exc}')}[/red]")
        raise typer.Exit(1) from None
    except SpecError as exc:
        _print_errors(f"{path}: {len(exc.errors)} problem(s)", exc)
        raise typer.Exit(1) from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        console.print(f"[red]cannot read {escape(str(path))}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None


def _print_errors(title: str, exc: SpecError) -> None:
    console.print(f"[red]{escape(title)}[/red]")
    for detail in exc.errors:  # paths and messages quote the rows' data: never read as markup
        console.print(f"  [bold]{escape(detail.path)}[/bold]: {escape(detail.message)}")


def _print_invalid(invalid: list[RowOutcome]) -> None:
    if not invalid:
        return
    table = Table(title=f"{len(invalid)} invalid row(s)", title_justify="left", title_style="red")
    for column in ("row", "variable", "path", "problem"):
        table.add_column(column, overflow="fold")
    for outcome in invalid:
        for error in outcome.errors:
            variable = getattr(error, "variable", None) or "-"
            table.add_row(str(outcome.row), Text(variable), Text(error.path), Text(error.message))
    console.print(table)


def _core_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_pool(jobs: list[RowJob], roots: list[Path], base_dir: Path, workers: int | None) -> list[RowResult]:
    """Render ``jobs`` on ``workers`` processes (default one per core), one progress bar."""
    import multiprocessing  # loaded here: every other command starts without the pool machinery
    from concurrent.futures import ProcessPoolExecutor

    from autovid.entrypoints.cli.batch_worker import init_worker, ready, render_row

    # spawn: the children start clean, not as copies of a parent whose progress thread is running.
    context = multiprocessing.get_context("spawn")
    results: list[RowResult] = []
    processes = min(workers or _core_count(), len(jobs))
    pool = ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=init_worker, initargs=(base_dir, roots)
    )
    try:
        # The first row alone: it fills the segment cache every other row reuses, so its minute of
        # audio is encoded once, not once per process. The other processes start meanwhile.
        first = {pool.submit(render_row, jobs[0]): jobs[0]}
        for _ in range(processes - 1):
            pool.submit(ready)
        with _batch_bar() as bar:
            task = bar.add_task("rendering", total=len(jobs))
            failed = _collect(first, results, bar, task, failed=0)
            rest = {pool.submit(render_row, job): job for job in jobs[1:]}
            _collect(rest, results, bar, task, failed=failed)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        console.print("[yellow]interrupted: the rows not yet rendered were not started[/yellow]")
        raise typer.Exit(130) from None
    pool.shutdown()
    return results


def _collect(
    futures: dict[Future[RowResult], RowJob],
    results: list[RowResult],
    bar: Progress,
    task: TaskID,
    *,
    failed: int,
) -> int:
    """Each row's result as it ends, added to ``results`` and to the bar; the failures so far."""
    from concurrent.futures import as_completed

    for future in as_completed(futures):
        results.append(_result_of(future, futures[future]))
        failed += 1 if results[-1].error else 0
        bar.update(task, advance=1, description=f"rendering ({failed} failed)" if failed else "rendering")
    return failed


def _result_of(future: Future[RowResult], job: RowJob) -> RowResult:
    from concurrent.futures.process import BrokenProcessPool

    from autovid.entrypoints.cli.batch_worker import RowResult

    try:
        return future.result()
    except BrokenProcessPool:
        return RowResult(job.row, job.output_path, "a render process died (out of memory or killed)")


def _batch_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )


def _print_summary(total: int, results: list[RowResult], invalid: int, elapsed: float) -> None:
    done = [result for result in results if not result.error]
    table = Table(title="batch", show_header=False, title_justify="left")
    table.add_row("rows", str(total))
    table.add_row("rendered", str(len(done)))
    table.add_row(
        "failed", str(len(results) - len(done) + invalid) + (f" ({invalid} invalid)" if invalid else "")
    )
    table.add_row("wall time", f"{elapsed:.1f} s")
    if done and elapsed > 0:
        table.add_row("videos per minute", f"{len(done) * 60 / elapsed:.1f}")
        table.add_row(
            "render time per video", f"{sum(r.seconds for r in done) / len(done):.2f} s (in a worker)"
        )
        table.add_row("video duration", f"{sum(r.duration_s for r in done):.1f} s in all")
        table.add_row("size", f"{sum(r.size_bytes for r in done) / 1e6:.1f} MB in all")
    console.print(table)


def _print_failed(failed: list[RowResult], invalid: list[RowOutcome]) -> None:
    console.print(f"[red]{len(failed) + len(invalid)} row(s) failed:[/red]")
    rows = [(o.row, "; ".join(f"{e.path}: {e.message}" for e in o.errors)) for o in invalid]
    rows += [(r.row, f"{r.output_path.name}: {r.error}") for r in failed]
    for row, reason in sorted(rows):
        console.print(f"  row {row}: {escape(reason)}")
