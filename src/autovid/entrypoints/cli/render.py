"""``autovid render | validate | schema``: the render engine on its own, no server."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from autovid.config import Settings
from autovid.entrypoints.cli import app
from autovid.errors import AutovidError, SpecError
from autovid.spec.models import JobSpec
from autovid.spec.validation import parse_spec

if TYPE_CHECKING:  # the render stack (PyAV, numpy) loads only when rendering
    from autovid.render.pipeline import RenderResult

console = Console(stderr=True)


def _load_spec(spec_path: Path, settings: Settings) -> JobSpec:
    try:
        raw = spec_path.read_bytes()
    except OSError as exc:
        console.print(f"[red]cannot read {spec_path}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    try:
        return parse_spec(raw, settings.spec_limits)
    except SpecError as exc:
        _print_spec_errors(spec_path, exc)
        raise typer.Exit(1) from None


def _print_spec_errors(spec_path: Path, exc: SpecError) -> None:
    console.print(f"[red]{spec_path}: {len(exc.errors)} problem(s)[/red]")
    for detail in exc.errors:
        # Messages quote the spec's own values: printed literally, never read as markup.
        console.print(f"  [bold]{escape(detail.path)}[/bold]: {escape(detail.message)}", highlight=False)


def default_output_path(spec: JobSpec, spec_path: Path) -> Path:
    """Where a CLI render goes when ``-o`` is not given: the spec's destination folder (relative
    to the spec file) when it is a local path, else ``./out``."""
    destination = spec.output.destination
    if destination and "://" not in destination:
        return (spec_path.parent / destination / spec.output.filename).resolve()
    return Path("out", spec.output.filename).resolve()


@app.command()
def validate(spec_path: Path = typer.Argument(..., help="job spec (JSON)")) -> None:
    """Check a job spec; exit 1 and list every problem when it is invalid."""
    _load_spec(spec_path, Settings())
    console.print(f"[green]{spec_path}: valid[/green]")


@app.command()
def schema(
    template: bool = typer.Option(False, "--template", help="the template document's schema instead"),
) -> None:
    """Print the job spec's JSON Schema (or, with --template, the template document's)."""
    if template:
        from autovid.templates import template_json_schema

        typer.echo(json.dumps(template_json_schema(), indent=2))
        return
    document = JobSpec.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "autovid job spec"
    typer.echo(json.dumps(document, indent=2))


@app.command()
def render(
    spec_path: Path = typer.Argument(
        ..., help="job spec (JSON); relative asset paths are read from its folder"
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="output MP4 (default: the spec's)"),
    allow_root: list[Path] = typer.Option(
        [], "--allow-root", help="extra folder local asset paths may be read from (repeatable)"
    ),
) -> None:
    """Render a job spec to an MP4 on this machine."""
    from autovid.bootstrap import build_renderer  # heavy imports only when rendering

    settings = Settings()
    spec = _load_spec(spec_path, settings)
    out_path = (output or default_output_path(spec, spec_path)).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    roots = [spec_path.parent.resolve(), Path.cwd().resolve(), *(r.resolve() for r in allow_root)]
    renderer = build_renderer(settings, base_dir=spec_path.parent.resolve(), allowed_roots=roots)
    try:
        with progress_bar(console) as bar, tempfile.TemporaryDirectory(prefix="autovid-") as workdir:
            task = bar.add_task("starting", total=100)
            result = renderer(
                spec,
                output_path=out_path,
                workdir=Path(workdir),
                progress=lambda stage, percent: bar.update(task, description=stage, completed=percent),
            )
            bar.update(task, description="done", completed=100)
    except AutovidError as exc:
        console.print(f"[red]render failed:[/red] {escape(exc.message)}", highlight=False)
        raise typer.Exit(1) from None
    _print_summary(result)
    typer.echo(str(result.output_path))


def progress_bar(console: Console, *, indent: str = "", transient: bool = True) -> Progress:
    """The stage-and-percent bar every command that follows a render shows."""
    return Progress(
        TextColumn(indent + "{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


def _print_summary(result: RenderResult) -> None:
    table = Table(title="render", show_header=False, title_justify="left")
    table.add_row("output", str(result.output_path))
    table.add_row("duration", f"{result.duration_s:.3f} s")
    table.add_row("size", f"{result.size_bytes / 1e6:.2f} MB")
    table.add_row("video", "copied (fast path)" if result.video_copied else "encoded (libx264)")
    if result.audio is not None:
        audio = result.audio.as_dict()
        target = "" if audio["targetLufs"] is None else f" (target {audio['targetLufs']} LUFS)"
        loudness = f"{audio['integratedLufs']} LUFS{target}, true peak {audio['truePeakDbtp']} dBTP"
        table.add_row("loudness", loudness)
    for voice in result.voices:
        table.add_row(f"voice [{voice.event_index}]", f"{voice.requested} -> {voice.engine} {voice.voice}")
    for caption in result.captions:
        table.add_row(f"captions {caption.format}", str(caption.path))
    for stage, seconds in result.timings_s.items():
        table.add_row(f"  {stage}", f"{seconds:.3f} s")
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow] {warning.code}: {warning.message}", highlight=False)
