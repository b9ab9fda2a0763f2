"""The job machinery is core: it talks to ports only. No vendor library, no adapter, no wiring,
no entrypoint (process supervision and signals live in ``autovid.entrypoints.workers``)."""

from __future__ import annotations

import ast
from pathlib import Path

import autovid.jobs

FORBIDDEN = (
    "boto3",
    "botocore",
    "httpx",
    "fastapi",
    "uvicorn",
    "sqlite3",
    "starlette",
    "signal",
    "multiprocessing",
    "autovid.adapters",
    "autovid.entrypoints",
    "autovid.bootstrap",
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_jobs_package_imports_no_vendor_adapter_or_wiring() -> None:
    package = Path(autovid.jobs.__file__).parent
    found = {
        f"{path.name}: {name}"
        for path in sorted(package.glob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert found == set()
