"""The ``autovid`` command line: one Typer app; each module adds its commands."""

from __future__ import annotations

import atexit
import os
import sys
import threading

import typer

app = typer.Typer(
    name="autovid",
    help="Lay voice-overs, sound effects and a ducked music bed over a video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"autovid {version('autovid')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("autovid (not installed)")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Lay voice-overs, sound effects and a ducked music bed over a video."""


# Importing the modules registers their commands on ``app``, in this order in the help.
# isort: off
from autovid.entrypoints.cli import render as _render  # noqa: E402, F401
from autovid.entrypoints.cli import batch as _batch  # noqa: E402, F401
from autovid.entrypoints.cli import service as _service  # noqa: E402, F401
# isort: on


def main() -> None:
    """The ``autovid`` program (``app`` is the same commands for tests and embedding).

    A command that has finished ends the process at once, after the exit handlers (log flushing)
    and with its exit status: tearing the interpreter down would free, one by one, the objects of
    the thousand modules a render imports (~50 ms, a few per cent of a one-minute render) just
    before the OS reclaims them anyway. Processes with threads or children still running (a
    server shutting down), or under a profiler or tracer (which write their reports at
    teardown), take the ordinary way out.
    """
    try:
        app()
        code: object = 0
    except SystemExit as finished:
        code = finished.code
    if isinstance(code, int | None) and _can_exit_at_once():
        atexit._run_exitfuncs()  # what the interpreter would run first when exiting
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    raise SystemExit(code)


def _can_exit_at_once() -> bool:
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    children = multiprocessing.active_children() if multiprocessing else []
    return threading.active_count() == 1 and not children
