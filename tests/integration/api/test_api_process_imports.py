"""The embedded server's API process answers requests without the render stack: its workers
render, so PyAV and NumPy (~16 MB of a process) load only there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RENDER_STACK = ("av", "numpy", "PIL", "pysubs2")


def test_the_api_process_loads_no_render_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from autovid.bootstrap import bootstrap\n"
        "from autovid.config import Settings\n"
        "from autovid.entrypoints.api.app import create_app\n"
        "create_app(bootstrap(Settings()))\n"
        f"bad = {RENDER_STACK!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))"
    )
    env = {**os.environ, "AUTOVID_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "[]"
