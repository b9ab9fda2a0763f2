"""The template layer is core: importing it loads no adapter, entrypoint, vendor SDK or server."""

from __future__ import annotations

import subprocess
import sys


def test_importing_templates_loads_nothing_outside_the_core(outside_the_core: tuple[str, ...]) -> None:
    forbidden = (*outside_the_core, "av", "numpy")  # templates are pure: not even the media stack
    code = (
        "import sys, autovid.templates\n"
        f"bad = {forbidden!r}\n"
        "print(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in bad)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
