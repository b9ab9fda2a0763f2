"""Managed storage in a local folder (``assets/``, ``outputs/``) with signed download URLs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from autovid.adapters.local.signing import Signer
from autovid.assets.ownership import check_key
from autovid.errors import StorageError
from autovid.files import atomic_write, drop_from_page_cache
from autovid.ports import BlobStore


class LocalBlobStore(BlobStore):
    """Keys are POSIX-style relative paths confined to ``root``; writes are atomic (temp + rename).

    ``download_url`` gives ``{public_url}/files/{key}?expires=…&signature=…``: an HMAC over the key
    and the expiry, checked by ``verify_download`` when the API serves ``/files/{key}``.
    """

    def __init__(
        self,
        root: Path,
        signer: Signer,
        public_url: str,
        *,
        prefixes: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,  # epoch seconds; tests move it past an expiry
    ) -> None:
        self.root = root.resolve()
        self._clock = clock
        self.prefixes = tuple(prefixes) if prefixes else None
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = signer
        self._public_url = public_url.rstrip("/")

    # --- BlobStore -----------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        with atomic_write(self.path_for(key), fsync=True) as temp:
            _link_or_copy(path, temp)
        # Stored (a link to the render's file, flushed), it is read again only when downloaded:
        # its pages are freed for the next render's output.
        drop_from_page_cache(self.path_for(key))

    def get_file(self, key: str, dest: Path) -> None:
        source = self.path_for(key)
        if not source.is_file():
            raise StorageError(f"no file '{key}' in managed storage")
        dest.parent.mkdir(parents=True, exist_ok=True)
        # A stored file is never written in place (``put_file`` renames a new one over its key)
        # and a render only reads its inputs, so a hard link is a snapshot that costs no copy,
        # and the probe cache (keyed by inode) knows it from the last render.
        _link_or_copy(source, dest)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def size(self, key: str) -> int:
        source = self.path_for(key)
        if not source.is_file():
            raise StorageError(f"no file '{key}' in managed storage")
        return source.stat().st_size

    def download_url(self, key: str, *, expires_s: int) -> tuple[str, datetime]:
        self.path_for(key)  # refuses bad keys before signing them
        expires = int(self._clock()) + int(expires_s)
        signature = self._signer.sign(_signed_text(key, expires))
        url = f"{self._public_url}/files/{quote(key)}?expires={expires}&signature={signature}"
        return url, datetime.fromtimestamp(expires, UTC)

    def uri(self, key: str) -> str | None:
        return None

    # --- local only ----------------------------------------------------------------------------

    def verify_download(self, key: str, expires: int | str, signature: str) -> Path:
        """The file behind a signed URL; ``StorageError`` when the signature is wrong, the URL has
        expired or the file is gone."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            raise StorageError("download link is invalid: 'expires' must be an integer") from None
        if not self._signer.verify(_signed_text(key, expires_at), signature or ""):
            raise StorageError("download link is invalid: bad signature")
        if expires_at < self._clock():
            raise StorageError("download link has expired")
        path = self.path_for(key)
        if not path.is_file():
            raise StorageError(f"no file '{key}' in managed storage")
        return path

    def path_for(self, key: str) -> Path:
        """The file a key names; ``StorageError`` for keys that could leave the root."""
        check_key(key)
        if self.prefixes is not None and key.split("/", 1)[0] not in self.prefixes:
            allowed = ", ".join(f"'{p}/'" for p in self.prefixes)
            raise StorageError(f"storage key '{key}' must start with {allowed}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageError(f"key '{key}' is outside the managed storage")
        return path

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)


def _signed_text(key: str, expires: int) -> str:
    return f"{key}\n{expires}"


def _link_or_copy(source: Path, dest: Path) -> None:
    """``dest`` as a hard link to ``source``, or a copy where links are not possible (another
    file system, no permission). What was at ``dest`` goes first: it may be a link itself, and
    copying into it would write the file it shares."""
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
