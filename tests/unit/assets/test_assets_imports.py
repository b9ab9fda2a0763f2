"""The asset core knows no vendor: the https and S3 transports are adapters (``adapters/http``,
``adapters/aws``) behind ``ports.SourceTransport``, wired in ``bootstrap``."""

from __future__ import annotations

import ast
from pathlib import Path

import autovid.assets

FORBIDDEN = (
    "boto3",
    "botocore",
    "httpx",
    "fastapi",
    "uvicorn",
    "sqlite3",
    "autovid.adapters",
    "autovid.bootstrap",
)
ASSETS = Path(autovid.assets.__file__).parent
ADAPTERS = ASSETS.parent / "adapters"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def forbidden_in(path: Path, prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in imported_modules(path) if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_the_asset_package_imports_no_vendor_sdk_nor_adapter() -> None:
    found = {path.name: forbidden_in(path, FORBIDDEN) for path in sorted(ASSETS.glob("*.py"))}
    assert {name: bad for name, bad in found.items() if bad} == {}


def test_the_s3_adapter_does_not_reach_into_the_local_adapters() -> None:
    assert forbidden_in(ADAPTERS / "aws" / "s3_blobs.py", ("autovid.adapters.local",)) == set()
