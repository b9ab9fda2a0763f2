"""The core imports no vendor SDK, web framework, database driver or wiring.

``spec``, ``render``, ``jobs``, ``assets``, ``captions``, ``templates`` and ``speech`` reach storage,
queues, speech engines and the network only through the ports (``autovid.ports``), so this reads
every module's source and refuses a direct import of a vendor or of ``autovid.adapters``,
``autovid.entrypoints`` or ``autovid.bootstrap`` — anywhere in the module, inside functions and
``if TYPE_CHECKING:`` blocks too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import autovid

PACKAGE_ROOT = Path(autovid.__file__).resolve().parent
CORE = ("spec", "render", "jobs", "assets", "captions", "templates", "speech")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports(path.read_text(), package)


def _imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, a module of ``package``;
    relative imports resolved, ``from autovid import x`` counted as ``autovid.x``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base == "autovid"]
    return sorted(found)


def _forbidden(name: str, banned: tuple[str, ...]) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in banned)


def test_the_core_packages_are_all_read() -> None:
    # a renamed package would otherwise be skipped silently
    assert all(list((PACKAGE_ROOT / name).rglob("*.py")) for name in CORE)


def test_the_core_imports_no_vendor_and_no_wiring(outside_the_core: tuple[str, ...]) -> None:
    offences = [
        f"{path.relative_to(PACKAGE_ROOT.parent)}:{line} imports {name}"
        for package in CORE
        for path in sorted((PACKAGE_ROOT / package).rglob("*.py"))
        for line, name in _imported(path)
        if _forbidden(name, outside_the_core)
    ]
    assert offences == [], "the core must reach these through ports:\n" + "\n".join(offences)


# Process supervision and signals are entrypoint work (``autovid.entrypoints.workers``).
SUPERVISION = ("signal", "multiprocessing")


def test_the_job_machinery_supervises_no_processes() -> None:
    offences = [
        f"{path.name}:{line} imports {name}"
        for path in sorted((PACKAGE_ROOT / "jobs").rglob("*.py"))
        for line, name in _imported(path)
        if _forbidden(name, SUPERVISION)
    ]
    assert offences == []


def test_the_s3_adapter_does_not_reach_into_the_local_adapters() -> None:
    imported = _imported(PACKAGE_ROOT / "adapters" / "aws" / "s3_blobs.py")
    assert [name for _, name in imported if _forbidden(name, ("autovid.adapters.local",))] == []


def test_the_rule_sees_every_form_of_import(outside_the_core: tuple[str, ...]) -> None:
    # plain, from, relative, function-local and TYPE_CHECKING imports all count
    source = (
        "from typing import TYPE_CHECKING\n"
        "import botocore.exceptions\n"
        "from ..adapters.aws import errors\n"
        "from autovid import bootstrap\n"
        "if TYPE_CHECKING:\n    import httpx\n"
        "def f():\n    import sqlite3\n"
        "from . import fetcher\n"
    )
    found = _imports(source, "autovid.assets")
    assert [name for _, name in found if _forbidden(name, outside_the_core)] == [
        "botocore.exceptions",
        "autovid.adapters.aws",
        "autovid.bootstrap",
        "httpx",
        "sqlite3",
    ]
    assert (9, "autovid.assets") in found
