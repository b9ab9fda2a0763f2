"""Functions fit on a screen: none in ``src/autovid`` runs past 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import autovid

PACKAGE_ROOT = Path(autovid.__file__).resolve().parent
MAX_LINES = 60


def test_no_function_is_longer_than_a_screen() -> None:
    long = [
        f"{path.relative_to(PACKAGE_ROOT.parent)}:{node.lineno} {node.name} ({lines} lines)"
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (lines := node.end_lineno - node.lineno + 1) > MAX_LINES
    ]
    assert long == [], "split these:\n" + "\n".join(long)
