"""Path sources: files on this machine (CLI) and keys in the managed storage (service)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from autovid.assets.common import CHUNK_BYTES, FetchFailed, FetchRefused, too_large, write_capped
from autovid.errors import StorageError, TransientStorageError
from autovid.ports import BlobStore

STORAGE_PREFIXES = ("assets/", "outputs/")
MAX_KEY_CHARS = 1024


def resolve_cli_path(source: str, *, base_dir: Path | None, roots: Sequence[Path]) -> Path:
    """The real file behind a CLI path source: relative to ``base_dir`` (the spec file's folder),
    and after following every symlink still inside one of ``roots`` (already resolved)."""
    if "\x00" in source:
        raise FetchRefused("the path contains a NUL character")
    path = Path(source)
    if not path.is_absolute():
        if base_dir is None:
            raise FetchRefused(f"relative path '{source}' needs a base folder (the spec file's folder)")
        path = base_dir / path
    resolved = path.resolve()
    if not _inside(resolved, roots):
        raise FetchRefused(_outside_reason(source, path, roots))
    if not resolved.exists():
        raise FetchRefused(f"file not found: '{source}' (looked for {path})")
    if not resolved.is_file():
        raise FetchRefused(f"'{source}' is not a regular file")
    return resolved


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _outside_reason(source: str, path: Path, roots: Sequence[Path]) -> str:
    allowed = ", ".join(str(root) for root in roots) or "none are configured"
    # A path that stays inside lexically but not once resolved escapes through a symlink.
    through = " through a symbolic link" if _inside(Path(os.path.normpath(path)), roots) else ""
    return f"path '{source}' leads{through} outside the allowed folders ({allowed})"


def copy_local(path: Path, part: Path, *, max_bytes: int, abort: threading.Event) -> None:
    """Copy a resolved local file to ``part``, refusing files over ``max_bytes``."""
    try:
        # O_NOFOLLOW: a symlink swapped in after resolving is refused, not followed.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise FetchRefused(f"cannot open '{path}': {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as source:
        opened = os.fstat(source.fileno())
        size_bytes = opened.st_size
        if size_bytes > max_bytes:
            raise too_large(size_bytes, max_bytes)
        if _link_opened_file(path, opened, part):
            return
        try:
            write_capped(_chunks(source), part, max_bytes=max_bytes, abort=abort)
        except OSError as exc:
            raise FetchFailed(f"reading '{path}' failed: {exc.strerror}") from exc


def _link_opened_file(path: Path, opened: os.stat_result, part: Path) -> bool:
    """Hard-link the vetted file instead of copying it, so a multi-gigabyte video costs nothing.
    The link must be the very inode that was opened and checked (a file swapped in meanwhile is
    refused); False where links are not possible (another file system, permissions)."""
    try:
        os.link(path, part, follow_symlinks=False)
    except OSError:
        return False
    linked = os.lstat(part)
    if (linked.st_ino, linked.st_dev) != (opened.st_ino, opened.st_dev):
        part.unlink()
        return False
    return True


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


def storage_key(source: str) -> str:
    """Validate a service-mode path source as a managed-storage key (``assets/…`` or ``outputs/…``)."""
    allowed = "a key inside the managed storage such as 'assets/intro.mp3' (prefixes: assets/, outputs/)"
    if len(source) > MAX_KEY_CHARS or any(ord(c) < 32 or c == "\x7f" for c in source):
        raise FetchRefused(f"path '{source[:100]}' has control characters or is too long; use {allowed}")
    if source.startswith("/") or "\\" in source:
        raise FetchRefused(f"path '{source}' is not allowed (absolute or with backslashes); use {allowed}")
    segments = source.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise FetchRefused(f"path '{source}' has empty, '.' or '..' segments; use {allowed}")
    if not source.startswith(STORAGE_PREFIXES) or len(segments) < 2:
        raise FetchRefused(f"path '{source}' is outside the managed storage; use {allowed}")
    return source


def fetch_from_store(store: BlobStore, key: str, part: Path, *, max_bytes: int) -> None:
    """Copy ``key`` from the managed storage to ``part``, refusing objects over ``max_bytes``."""
    try:
        size_bytes = store.size(key)
        if size_bytes > max_bytes:
            raise too_large(size_bytes, max_bytes)
        store.get_file(key, part)
    except StorageError as exc:
        raise FetchRefused(f"'{key}' is not available in the managed storage: {exc.message}") from exc
    except TransientStorageError as exc:
        raise FetchFailed(f"reading '{key}' from the managed storage failed: {exc.message}") from exc
    except OSError as exc:
        raise FetchFailed(f"reading '{key}' from the managed storage failed: {exc}") from exc
    written_bytes = part.stat().st_size
    if written_bytes > max_bytes:
        raise too_large(written_bytes, max_bytes)
