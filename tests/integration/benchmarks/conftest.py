"""Fixtures for the benchmark harness's smoke tests: tiny inputs made once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.inputs import BenchInputs, JobShape, prepare  # noqa: E402

TINY = JobShape(duration_s=2, width=160, height=120)


@pytest.fixture(scope="session")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory) -> BenchInputs:
    """The benchmark job on a 2 s 160x120 video (the real job is 60 s at 1080p)."""
    return prepare(tmp_path_factory.mktemp("bench-cache"), TINY, log=lambda _: None)
