"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder (real third-party media, reference specs); skip when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-media tests need ../shared beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def reference_specs(shared_dir: Path) -> list[Path]:
    specs = sorted((shared_dir / "reference-specs").glob("*.json"))
    if not specs:
        pytest.skip("no reference specs in ../shared/reference-specs")
    return specs
