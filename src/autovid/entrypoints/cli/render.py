"""``autovid render | validate | schema | examples``: the render engine on its own, no server."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from autovid.config import Settings
from autovid.entrypoints.cli import app
from autovid.errors import AutovidError, SpecError
from autovid.spec.models import JobSpec
from autovid.spec.validation import parse_spec

if TYPE_CHECKING:  # the render stack (PyAV, numpy) loads only when rendering
    from autovid.assets.check import SourceProblem
    from autovid.render.pipeline import RenderResult

# Lines are wrapped to a terminal's width, never into a file or pipe (a break mid-sentence or
# mid-path gets in the way there); ``say`` decides per line, for consoles swapped by tests too.
console = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

AllowRootOption = typer.Option(
    [], "--allow-root", help="extra folder local asset paths may be read from (repeatable)"
)


def say(text: str) -> None:
    """Print a line for a person (on stderr: stdout carries only what scripts read)."""
    console.print(text, soft_wrap=not console.is_terminal)


def _load_spec(spec_path: Path, settings: Settings) -> JobSpec:
    try:
        raw = spec_path.read_bytes()
    except OSError as exc:
        say(f"[red]cannot read {escape(str(spec_path))}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    try:
        return parse_spec(raw, settings.spec_limits)
    except SpecError as exc:
        say(f"[red]{escape(str(spec_path))}: {_count(len(exc.errors), 'problem')}[/red]")
        for line in exc.as_lines():
            say(f"  {escape(line)}")
        raise typer.Exit(1) from None


def default_output_path(spec: JobSpec, spec_path: Path) -> Path:
    """Where a CLI render goes when ``-o`` is not given: the spec's destination folder (relative
    to the spec file) when it is a local path, else ``./out``."""
    destination = spec.output.destination
    if destination and "://" not in destination:
        return (spec_path.parent / destination / spec.output.filename).resolve()
    return Path("out", spec.output.filename).resolve()


def allowed_roots(spec_path: Path, extra: list[Path]) -> list[Path]:
    """The folders local asset paths may come from: the spec's, the current one, ``--allow-root``
    ones; each once."""
    roots: list[Path] = []
    for root in (spec_path.parent, Path.cwd(), *extra):
        if root.resolve() not in roots:
            roots.append(root.resolve())
    return roots


def make_example_media(spec_path: Path) -> None:
    """The example's media, made on first use when ``spec_path`` is the repository's example."""
    from autovid.examples import ensure_for_spec

    ensure_for_spec(spec_path, lambda path: say(f"making example media {path} (first use)"))


def _check_sources(
    spec: JobSpec,
    spec_path: Path,
    roots: list[Path],
    settings: Settings,
    *,
    fetch_remote: bool,
    meanwhile: Callable[[], object] = lambda: None,
) -> None:
    """Every asset source resolved and probed; all failures listed together, then exit 1.
    ``meanwhile`` runs on this thread while FFmpeg probes (it does not hold the GIL)."""
    from autovid.bootstrap import build_source_checker

    checker = build_source_checker(
        settings, base_dir=spec_path.parent.resolve(), allowed_roots=roots, fetch_remote=fetch_remote
    )
    with (
        tempfile.TemporaryDirectory(prefix="autovid-check-") as scratch,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="check") as pool,
    ):
        checking = pool.submit(checker.check, spec, Path(scratch))
        meanwhile()
        problems = checking.result()
    if not problems:
        return
    say(f"[red]{escape(str(spec_path))}: {_count(len(problems), 'asset')} cannot be used[/red]")
    for problem in problems:
        say(f"  {escape(_describe(problem))}")
    if any(problem.outside_roots for problem in problems):
        say("  --allow-root DIR admits another folder")
    raise typer.Exit(1)


def _load_render_stack() -> None:
    import autovid.render.pipeline  # noqa: F401


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _describe(problem: SourceProblem) -> str:
    return f"{problem.path} (asset '{problem.asset_id}'): {problem.message}"


@app.command()
def validate(
    spec_path: Path = typer.Argument(..., help="job spec (JSON)"),
    check_files: bool = typer.Option(
        False, "--check-files", help="also resolve, fetch and probe every asset source"
    ),
    allow_root: list[Path] = AllowRootOption,
) -> None:
    """Check a job spec; exit 1 and list every problem when it is invalid."""
    settings = Settings()
    if check_files:
        make_example_media(spec_path)
    spec = _load_spec(spec_path, settings)
    if check_files:
        _check_sources(spec, spec_path, allowed_roots(spec_path, allow_root), settings, fetch_remote=True)
    say(f"[green]{escape(str(spec_path))}: valid{', every asset readable' if check_files else ''}[/green]")


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
def examples() -> None:
    """Make the example media (examples/media/) the README's commands use; makes only what is missing."""
    from autovid.examples import ensure_example_media, example_dirs

    folders = example_dirs()
    if not folders:
        say("[red]no examples/welcome.spec.json here or in the installed repository[/red]")
        raise typer.Exit(2)
    made = ensure_example_media(folders[0] / "media", lambda path: say(f"making {path}"))
    say(f"example media ready in {folders[0] / 'media'}" + ("" if made else " (nothing to make)"))


@app.command()
def render(
    spec_path: Path = typer.Argument(
        ..., help="job spec (JSON); relative asset paths are read from its folder"
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="output MP4 (default: the spec's)"),
    allow_root: list[Path] = AllowRootOption,
) -> None:
    """Render a job spec to an MP4 on this machine."""
    from autovid.bootstrap import build_renderer  # heavy imports only when rendering
    from autovid.entrypoints.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the probe, decoder and encoder threads start
    settings = Settings()
    make_example_media(spec_path)
    spec = _load_spec(spec_path, settings)
    roots = allowed_roots(spec_path, allow_root)
    # Remote sources are fetched by the render; the render stack loads while the sources are probed.
    _check_sources(spec, spec_path, roots, settings, fetch_remote=False, meanwhile=_load_render_stack)
    out_path = (output or default_output_path(spec, spec_path)).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
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
        say(f"[red]render failed:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from None
    for line in summary_lines(result):
        say(line)
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
        disable=not console.is_terminal,  # a bar drawn into a log file is noise
    )


def summary_lines(result: RenderResult) -> list[str]:
    """What the render did, a line each: the file, loudness, the voice of each TTS event (and
    which local voice stood in for a Polly one), captions, warnings, and where the time went."""
    video = "video copied (fast path)" if result.video_copied else "video encoded (libx264)"
    lines = [
        f"[green]rendered[/green] {escape(str(result.output_path))}",
        f"  {result.duration_s:.3f} s, {result.size_bytes / 1e6:.2f} MB, {video}",
    ]
    if result.audio is not None:
        audio = result.audio.as_dict()
        target = "" if audio["targetLufs"] is None else f" (target {audio['targetLufs']} LUFS)"
        lines.append(
            f"  loudness {audio['integratedLufs']} LUFS{target}, true peak {audio['truePeakDbtp']} dBTP, "
            f"range {audio['loudnessRange']} LU"
        )
    for voice in result.voices:
        lines.append(
            f"  timeline[{voice.event_index}] {_voice_text(voice.requested, voice.engine, voice.voice)}"
        )
    for caption in result.captions:
        lines.append(f"  captions ({caption.format}, {caption.language}) {escape(str(caption.path))}")
    for warning in result.warnings:
        lines.append(f"  [yellow]warning[/yellow] {warning.code}: {escape(warning.message)}")
    took = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.timings_s.items())
    lines.append(f"  took {took}")
    return lines


def _voice_text(requested: str, engine: str, voice: str) -> str:
    if engine.startswith("polly"):
        kind = engine.partition(":")[2]
        return f"spoken by Amazon Polly voice {voice}" + (f" ({kind})" if kind else "")
    if voice == requested:
        return f"spoken by {engine} voice {voice}"
    return f"asked for Polly voice {requested}; spoken by local {engine} voice {voice} standing in"
