"""Fixtures for the asset unit tests: a folder-backed BlobStore fake and fetcher settings."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autovid.errors import StorageError, TransientStorageError
from autovid.ports import BlobStore


class FolderBlobStore(BlobStore):
    """Managed storage over a folder; counts reads and can fail transiently ``flaky_reads`` times."""

    def __init__(self, root: Path, *, flaky_reads: int = 0) -> None:
        self.root = root
        self.flaky_reads = flaky_reads
        self.get_calls: list[str] = []

    def _path(self, key: str) -> Path:
        return self.root / key

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        self._path(key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self._path(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._path(key).parent.mkdir(parents=True, exist_ok=True)
        self._path(key).write_bytes(data)

    def get_file(self, key: str, dest: Path) -> None:
        self.get_calls.append(key)
        if self.flaky_reads > 0:
            self.flaky_reads -= 1
            dest.write_bytes(b"half a fi")  # a partial file the fetcher must clean up
            raise TransientStorageError(f"storage busy reading {key}")
        if not self._path(key).is_file():
            raise StorageError(f"no object at key '{key}'")
        shutil.copyfile(self._path(key), dest)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        if not self._path(key).is_file():
            raise StorageError(f"no object at key '{key}'")
        return self._path(key).stat().st_size

    def download_url(self, key: str, *, expires_s: int) -> tuple[str, datetime]:
        return f"file://{self._path(key)}", datetime.now(UTC) + timedelta(seconds=expires_s)

    def uri(self, key: str) -> str | None:
        return None


@pytest.fixture
def blob_store(tmp_path: Path) -> FolderBlobStore:
    return FolderBlobStore(tmp_path / "storage")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "work"


FETCH_SETTINGS: dict[str, object] = {"max_bytes": 100_000, "retries": 2, "backoff_base_s": 0.0}  # FetchPolicy


@pytest.fixture
def fetch_settings() -> dict[str, object]:
    return dict(FETCH_SETTINGS)
