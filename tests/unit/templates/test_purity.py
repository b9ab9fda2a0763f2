"""The template layer is core: importing it loads no adapter, entrypoint, vendor SDK or server."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "boto3",
    "botocore",
    "httpx",
    "fastapi",
    "uvicorn",
    "sqlite3",
    "autovid.adapters",
    "autovid.entrypoints",
    "autovid.bootstrap",
    "av",
    "numpy",
)


def test_importing_templates_loads_nothing_outside_the_core() -> None:
    code = (
        "import sys, autovid.templates\n"
        f"bad = {FORBIDDEN!r}\n"
        "print(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in bad)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
