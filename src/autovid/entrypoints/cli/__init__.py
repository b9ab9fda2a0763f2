"""The ``autovid`` command line: one Typer app; each module adds its commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="autovid",
    help="Lay voice-overs, sound effects and a ducked music bed over a video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Importing the modules registers their commands on ``app``.
from autovid.entrypoints.cli import render as _render  # noqa: E402, F401
from autovid.entrypoints.cli import service as _service  # noqa: E402, F401
