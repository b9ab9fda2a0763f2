"""Encoded AAC segments kept on local disk across renders (the render engine's ``SegmentStore``).

One file per key in one folder, shared by every process of the machine (the service's workers,
``autovid render`` and ``autovid batch`` runs; on Lambda, the renders of one container in
``/tmp``). Writes are atomic (a temporary file in the folder, then a rename), so a reader sees a
whole entry or none; a hit touches the file's modification time, and after each write the least
recently used files go until the folder is within ``max_bytes``. Two processes evicting at once
only race to delete the same old files. A claim on a key is an exclusive ``flock`` on a lock file
of its own: the kernel lets it go when its holder dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_SUFFIX = ".seg"
_LOCK_SUFFIX = ".lock"
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_S = 3600.0
_CLAIM_WAIT_S = 30.0  # a holder encodes one segment (well under a second); past this, encode anyway
_CLAIM_POLL_S = 0.005


class DiskSegmentCache:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive (leave the cache out to disable it)")
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)  # most recently used
        except OSError:  # absent, or evicted between the read and the touch
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        try:
            self._write(self._path(key), data)
        except OSError as exc:  # a full disk costs the reuse, never the render
            log.warning("segment cache: could not store an entry (%s)", exc.strerror or exc)
            return
        self.evict()

    @contextmanager
    def claim(self, key: str) -> Iterator[None]:
        """Held by one render of the machine at a time (others wait up to ``_CLAIM_WAIT_S``, then
        go on without it: a claim saves work, it is not needed for correctness)."""
        path = self._path(key).with_suffix(_LOCK_SUFFIX)
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only or full disk: no claim, the segment is encoded here too
            yield
            return
        held = False
        try:
            held = _lock(handle, time.monotonic() + _CLAIM_WAIT_S)
            yield
        finally:
            # Unlinked while still locked: whoever opens the path afterwards finds the entry stored.
            # A render that gave up waiting leaves the holder's file alone.
            if held:
                path.unlink(missing_ok=True)
            os.close(handle)

    def _write(self, path: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def evict(self) -> None:
        """Remove least recently used entries until the folder is within ``max_bytes``."""
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            Path(path).unlink(missing_ok=True)  # missing: another process evicted it first
            total -= size

    def _entries(self) -> list[tuple[int, int, str]]:
        entries = []
        with os.scandir(self.directory) as scan:
            for entry in scan:
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                if entry.name.startswith(_TEMP_PREFIX) and time.time() - stat.st_mtime > _STALE_TEMP_S:
                    Path(entry.path).unlink(missing_ok=True)  # left by a process that was killed
                if not entry.name.endswith(_SUFFIX):
                    continue
                entries.append((stat.st_mtime_ns, stat.st_size, entry.path))
        return entries

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("segment cache keys are hexadecimal digests")
        return self.directory / f"{key}{_SUFFIX}"


def _lock(handle: int, deadline: float) -> bool:
    """Whether the lock was taken before ``deadline``."""
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_CLAIM_POLL_S)
