"""``AssetFetcher``: bring every asset of a job to local files, concurrently and safely.

Sources (docs/SPEC.md): ``https://`` URLs (``http://`` only when allowed), ``s3://bucket/key``, and
paths — relative to the spec file's folder in the CLI, keys in the managed storage in the service.
Each distinct source is fetched once, in a bounded thread pool. The result is all or nothing: when
any asset fails, the others are stopped, every file written is removed, and the error names the
asset. Permanent problems raise ``AssetError``; transient ones (5xx, timeouts, connection errors,
throttling) are retried with exponential backoff and then raise ``TransientAssetError``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autovid.assets.common import (
    FetchAborted,
    FetchFailed,
    FetchRefused,
    extension_of,
    remove_quietly,
)
from autovid.assets.local import copy_local, fetch_from_store, resolve_cli_path, storage_key
from autovid.assets.s3 import parse_s3_uri
from autovid.errors import AssetError, ConfigError, TransientAssetError
from autovid.files import atomic_write
from autovid.ports import BlobStore, SourceTransport

if TYPE_CHECKING:
    from autovid.spec.models import AudioAsset, VideoAsset

logger = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BACKOFF_CAP_S = 10.0
CHECKPOINT_INTERVAL_S = 0.2


def source_kind(source: str) -> str:
    """ "http" (https:// or http://), "s3" or "path"; ``FetchRefused`` for any other scheme."""
    match = _SCHEME.match(source)
    if match is None:
        return "path"
    scheme = match.group(1).lower()
    if scheme in ("https", "http"):
        return "http"
    if scheme == "s3":
        return "s3"
    raise FetchRefused(f"source scheme '{scheme}:' is not supported; use https://, s3:// or a path")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and retries shared by every source. ``retries`` counts retries after the first
    attempt; waits grow from ``backoff_base_s``."""

    max_bytes: int
    retries: int
    max_workers: int = 4
    backoff_base_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.retries < 0 or self.max_workers < 1 or self.backoff_base_s < 0:
            raise ConfigError("FetchPolicy: max_bytes, max_workers > 0; retries, backoff_base_s >= 0")


@dataclass(frozen=True)
class LocalFiles:
    """CLI mode: path sources are files on this machine, relative to ``base_dir`` (the spec
    file's folder); after following symlinks they must lie inside ``allowed_roots`` (default
    ``[base_dir]``). ``s3://`` sources may name any bucket the caller's credentials reach."""

    base_dir: Path | None = None
    allowed_roots: Sequence[Path] | None = None

    def roots(self) -> list[Path]:
        if self.allowed_roots is not None:
            roots = list(self.allowed_roots)
        else:
            roots = [self.base_dir] if self.base_dir else []
        return [Path(root).resolve() for root in roots]


@dataclass(frozen=True)
class ManagedStorage:
    """Service mode: path sources are keys of the managed storage (``assets/…``, ``outputs/…``),
    and ``s3://`` sources may name only ``s3_buckets`` (none by default)."""

    store: BlobStore
    s3_buckets: frozenset[str] = frozenset()


class AssetFetcher:
    """Implements the render engine's ``AssetSource``: ``fetch_all(assets, dest_dir)``.

    ``mode`` says what a path source is (``LocalFiles`` or ``ManagedStorage``); ``https`` and
    ``s3`` are the transports for URL sources (adapters; without one, that scheme is refused).
    """

    def __init__(
        self,
        mode: LocalFiles | ManagedStorage,
        policy: FetchPolicy,
        *,
        https: SourceTransport | None = None,
        s3: SourceTransport | None = None,
    ) -> None:
        self._mode = mode
        self._policy = policy
        self._base_dir = mode.base_dir.resolve() if isinstance(mode, LocalFiles) and mode.base_dir else None
        self._roots = mode.roots() if isinstance(mode, LocalFiles) else []
        self._transports = {"http": https, "s3": s3}

    def fetch_all(
        self,
        assets: Sequence[AudioAsset | VideoAsset],
        dest_dir: Path,
        *,
        checkpoint: Callable[[], None] | None = None,
    ) -> dict[str, Path]:
        """Fetch every asset into ``dest_dir``; return asset id -> local file (extension kept).

        ``checkpoint`` (optional) is called from the calling thread every ``CHECKPOINT_INTERVAL_S``
        while downloads run; whatever it raises (a cancelled or timed-out job) stops them, removes
        every file and propagates."""
        ids_by_source: dict[str, list[str]] = {}
        for asset in assets:
            ids_by_source.setdefault(asset.source, []).append(asset.id)
        for source, ids in ids_by_source.items():
            self._precheck(source, ids)
        if not ids_by_source:
            return {}
        dest_dir.mkdir(parents=True, exist_ok=True)
        paths_by_source = self._fetch_concurrently(ids_by_source, dest_dir, checkpoint)
        return {asset.id: paths_by_source[asset.source] for asset in assets}

    def _precheck(self, source: str, ids: list[str]) -> None:
        """Refuse what needs no I/O to refuse (scheme, key, S3 URI) before fetching anything."""
        try:
            kind = source_kind(source)
            if kind != "path" and self._transports[kind] is None:
                raise FetchRefused(f"{source.split(':', 1)[0]}:// sources are not available here")
            if kind == "s3":
                bucket, _key = parse_s3_uri(source)
                if isinstance(self._mode, ManagedStorage) and bucket not in self._mode.s3_buckets:
                    raise FetchRefused(f"bucket '{bucket}' is not allowed for s3:// sources on this server")
            elif kind == "path" and isinstance(self._mode, ManagedStorage):
                storage_key(source)
        except FetchRefused as exc:
            raise AssetError(ids[0], _with_sharers(exc.reason, ids)) from exc

    def _fetch_concurrently(
        self,
        ids_by_source: dict[str, list[str]],
        dest_dir: Path,
        checkpoint: Callable[[], None] | None,
    ) -> dict[str, Path]:
        abort = threading.Event()
        results: dict[str, Path] = {}
        errors: list[BaseException] = []
        stopped_by: BaseException | None = None  # what the checkpoint raised
        workers = min(self._policy.max_workers, len(ids_by_source))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asset-fetch") as pool:
            pending: dict[Future[Path], str] = {
                pool.submit(self._fetch_source, index, source, ids, dest_dir, abort): source
                for index, (source, ids) in enumerate(ids_by_source.items())
            }
            while pending:
                done, _running = wait(pending, timeout=CHECKPOINT_INTERVAL_S, return_when=FIRST_COMPLETED)
                _collect(done, pending, results, errors, abort)
                if checkpoint is not None and not abort.is_set():
                    try:
                        checkpoint()
                    except BaseException as exc:
                        stopped_by = exc
                        abort.set()
        if errors or stopped_by is not None:
            for path in results.values():
                remove_quietly(path)
            raise stopped_by or _most_telling(errors)
        return results

    def _fetch_source(
        self,
        index: int,
        source: str,
        ids: list[str],
        dest_dir: Path,
        abort: threading.Event,
    ) -> Path:
        stem = dest_dir / f"{index:03d}-{ids[0]}"
        try:
            with atomic_write(stem) as part:
                extension = self._with_retries(lambda: self._fetch_once(source, part, abort), ids, abort)
            final = stem.with_name(stem.name + extension)
            os.replace(stem, final)  # the extension is known only once fetched; decoders need it
            return final
        except FetchRefused as exc:
            raise AssetError(ids[0], _with_sharers(exc.reason, ids)) from exc
        except FetchFailed as exc:
            attempts = self._policy.retries + 1
            reason = f"{exc.reason} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
            raise TransientAssetError(ids[0], _with_sharers(reason, ids)) from exc

    def _with_retries(self, fetch_once: Callable[[], str], ids: list[str], abort: threading.Event) -> str:
        retries = self._policy.retries
        for attempt in range(retries + 1):
            if abort.is_set():
                raise FetchAborted()
            try:
                return fetch_once()
            except FetchFailed as exc:
                if attempt == retries:
                    raise
                delay_s = self._backoff_s(attempt)
                logger.warning(
                    "asset '%s': %s; retry %d of %d in %.2f s",
                    ids[0],
                    exc.reason,
                    attempt + 1,
                    retries,
                    delay_s,
                )
                if abort.wait(delay_s):
                    raise FetchAborted() from exc
        raise AssertionError("unreachable")

    def _backoff_s(self, attempt: int) -> float:
        # Exponential with jitter, so retries of many workers do not arrive in lockstep.
        return min(_BACKOFF_CAP_S, self._policy.backoff_base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def _fetch_once(self, source: str, part: Path, abort: threading.Event) -> str:
        remove_quietly(part)  # each attempt starts from an empty file
        kind = source_kind(source)
        max_bytes = self._policy.max_bytes
        transport = self._transports.get(kind)
        if transport is not None:
            return transport.download(source, part, max_bytes=max_bytes, abort=abort)
        if isinstance(self._mode, ManagedStorage):
            key = storage_key(source)
            fetch_from_store(self._mode.store, key, part, max_bytes=max_bytes)
            return extension_of(key)
        path = resolve_cli_path(source, base_dir=self._base_dir, roots=self._roots)
        copy_local(path, part, max_bytes=max_bytes, abort=abort)
        return extension_of(source) or extension_of(path.name)


def _collect(
    done: Iterable[Future[Path]],
    pending: dict[Future[Path], str],
    results: dict[str, Path],
    errors: list[BaseException],
    abort: threading.Event,
) -> None:
    for future in done:
        source = pending.pop(future)
        error = future.exception()
        if error is None:
            results[source] = future.result()
        else:
            errors.append(error)
            abort.set()  # stop the others: the job cannot use a partial set of assets


def _with_sharers(reason: str, ids: list[str]) -> str:
    return reason if len(ids) == 1 else f"{reason} (source shared with {', '.join(ids[1:])})"


def _most_telling(errors: list[BaseException]) -> BaseException:
    """A permanent problem beats a transient one (retrying the job cannot help); an unexpected
    exception (a bug) beats a transient one too. Aborted fetches are only echoes."""
    real = [error for error in errors if not isinstance(error, FetchAborted)]
    for wanted in (AssetError, Exception):
        for error in real:
            if isinstance(error, wanted) and not isinstance(error, TransientAssetError):
                return error
    return real[0] if real else errors[0]
