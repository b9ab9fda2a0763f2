"""How much of a file the kernel's page cache holds, for tests of what autovid frees there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def cached_bytes(path: Path) -> int | None:
    """The bytes of ``path`` in the page cache (util-linux ``fincore``); None where that cannot
    be told: no ``fincore``, or a tmpfs (whose files are the page cache itself)."""
    if shutil.which("fincore") is None:
        return None
    filesystem = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    if filesystem.stdout.strip() == "tmpfs":
        return None
    done = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())
