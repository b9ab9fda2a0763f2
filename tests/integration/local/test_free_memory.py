"""``release_free_memory``: what a job freed goes back to the system before the next job."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")

# Many blocks below glibc's mmap threshold, all freed but the newest: the heap cannot shrink from
# its top, so the freed pages stay in the process until they are trimmed.
_PROGRAM = """
import numpy as np
from autovid.entrypoints.memory import limit_malloc_arenas, release_free_memory

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

limit_malloc_arenas()
blocks = [np.ones(8192, dtype=np.uint8) for _ in range(20_000)]
last = blocks[-1]
del blocks
held = rss_mb()
release_free_memory()
print(held, rss_mb())
"""


def test_the_freed_heap_goes_back_to_the_system() -> None:
    run = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True, check=True)
    held_mb, after_mb = map(float, run.stdout.split())
    assert held_mb - after_mb > 100, (held_mb, after_mb)  # of the ~160 MB allocated and freed
