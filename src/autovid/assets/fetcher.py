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
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autovid.assets.common import (
    FetchAborted,
    FetchFailed,
    FetchRefused,
    extension_of,
    remove_quietly,
)
from autovid.assets.local import copy_local, fetch_from_store, resolve_cli_path, storage_key
from autovid.assets.s3 import download_s3, parse_s3_uri
from autovid.errors import AssetError, ConfigError, TransientAssetError
from autovid.ports import BlobStore

if TYPE_CHECKING:
    from autovid.netguard import GuardedClient, IPNetwork, Resolver
    from autovid.spec.models import AudioAsset, VideoAsset

logger = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BACKOFF_CAP_S = 10.0
CHECKPOINT_INTERVAL_S = 0.2
USER_AGENT = "autovid (asset fetcher)"


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


class AssetFetcher:
    """Implements the render engine's ``AssetSource``: ``fetch_all(assets, dest_dir)``.

    CLI mode: ``base_dir`` (the spec file's folder) and optional ``allowed_roots`` (default
    ``[base_dir]``): path sources must resolve, symlinks followed, inside a root. Service mode:
    ``blob_store``: path sources are managed-storage keys under ``assets/`` or ``outputs/``.
    ``retries`` is the number of retries after the first attempt. ``allowed_networks`` lets
    URLs reach just these private networks (e.g. an internal asset server); ``allow_private``
    (development only) lets them reach any address.
    """

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        allowed_roots: Sequence[Path] | None = None,
        blob_store: BlobStore | None = None,
        s3_client: Any | None = None,
        s3_client_factory: Callable[[], Any] | None = None,
        max_bytes: int,
        timeout_s: float,
        retries: int,
        allow_private: bool,
        allow_http: bool,
        allowed_networks: Iterable[str | IPNetwork] = (),
        max_workers: int = 4,
        backoff_base_s: float = 0.5,
        resolver: Resolver | None = None,
        verify: Any = True,
    ) -> None:
        if blob_store is not None and (base_dir is not None or allowed_roots is not None):
            raise ConfigError("AssetFetcher: give blob_store (service) or base_dir/allowed_roots (CLI)")
        if max_bytes <= 0 or timeout_s <= 0 or retries < 0 or max_workers < 1 or backoff_base_s < 0:
            raise ConfigError("AssetFetcher: max_bytes, timeout_s, max_workers > 0; retries >= 0")
        self._base_dir = base_dir.resolve() if base_dir is not None else None
        roots = allowed_roots if allowed_roots is not None else [base_dir] if base_dir else []
        self._roots = [Path(root).resolve() for root in roots]
        self._blob_store = blob_store
        self._s3_client = s3_client
        self._s3_client_factory = s3_client_factory  # called on the first s3:// source only
        self._s3_lock = threading.Lock()
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._retries = retries
        self._allow_private = allow_private
        self._allow_http = allow_http
        self._allowed_networks = tuple(allowed_networks)
        self._max_workers = max_workers
        self._backoff_base_s = backoff_base_s
        self._resolver = resolver
        self._verify = verify

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
        with ExitStack() as stack:
            client = None
            if any(source_kind(source) == "http" for source in ids_by_source):  # prechecked
                client = stack.enter_context(self._http_client())
            paths_by_source = self._fetch_concurrently(ids_by_source, dest_dir, client, checkpoint)
        return {asset.id: paths_by_source[asset.source] for asset in assets}

    def _precheck(self, source: str, ids: list[str]) -> None:
        """Refuse what needs no I/O to refuse (scheme, key, S3 URI) before fetching anything."""
        try:
            kind = source_kind(source)
            if kind == "s3":
                parse_s3_uri(source)
            elif kind == "path" and self._blob_store is not None:
                storage_key(source)
        except FetchRefused as exc:
            raise AssetError(ids[0], _with_sharers(exc.reason, ids)) from exc

    def _fetch_concurrently(
        self,
        ids_by_source: dict[str, list[str]],
        dest_dir: Path,
        client: GuardedClient | None,
        checkpoint: Callable[[], None] | None,
    ) -> dict[str, Path]:
        abort = threading.Event()
        results: dict[str, Path] = {}
        errors: list[BaseException] = []
        stopped_by: BaseException | None = None  # what the checkpoint raised
        workers = min(self._max_workers, len(ids_by_source))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asset-fetch") as pool:
            pending: dict[Future[Path], str] = {
                pool.submit(self._fetch_source, index, source, ids, dest_dir, client, abort): source
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
        client: GuardedClient | None,
        abort: threading.Event,
    ) -> Path:
        stem = f"{index:03d}-{ids[0]}"
        part = dest_dir / f".{stem}.part"
        try:
            extension = self._with_retries(lambda: self._fetch_once(source, part, client, abort), ids, abort)
            final = dest_dir / f"{stem}{extension}"
            os.replace(part, final)
            return final
        except FetchRefused as exc:
            raise AssetError(ids[0], _with_sharers(exc.reason, ids)) from exc
        except FetchFailed as exc:
            attempts = self._retries + 1
            reason = f"{exc.reason} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
            raise TransientAssetError(ids[0], _with_sharers(reason, ids)) from exc
        finally:
            remove_quietly(part)

    def _with_retries(self, fetch_once: Callable[[], str], ids: list[str], abort: threading.Event) -> str:
        for attempt in range(self._retries + 1):
            if abort.is_set():
                raise FetchAborted()
            try:
                return fetch_once()
            except FetchFailed as exc:
                if attempt == self._retries:
                    raise
                delay_s = self._backoff_s(attempt)
                logger.warning(
                    "asset '%s': %s; retry %d of %d in %.2f s",
                    ids[0],
                    exc.reason,
                    attempt + 1,
                    self._retries,
                    delay_s,
                )
                if abort.wait(delay_s):
                    raise FetchAborted() from exc
        raise AssertionError("unreachable")

    def _backoff_s(self, attempt: int) -> float:
        # Exponential with jitter, so retries of many workers do not arrive in lockstep.
        return min(_BACKOFF_CAP_S, self._backoff_base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def _fetch_once(
        self, source: str, part: Path, client: GuardedClient | None, abort: threading.Event
    ) -> str:
        remove_quietly(part)  # each attempt starts from an empty file
        kind = source_kind(source)
        if kind == "http":
            from autovid.assets.http import download_https  # httpx loads only for URL sources

            assert client is not None
            return download_https(client, source, part, max_bytes=self._max_bytes, abort=abort)
        if kind == "s3":
            bucket, key = parse_s3_uri(source)
            return download_s3(self._s3(), bucket, key, part, max_bytes=self._max_bytes, abort=abort)
        if self._blob_store is not None:
            key = storage_key(source)
            fetch_from_store(self._blob_store, key, part, max_bytes=self._max_bytes)
            return extension_of(key)
        path = resolve_cli_path(source, base_dir=self._base_dir, roots=self._roots)
        copy_local(path, part, max_bytes=self._max_bytes, abort=abort)
        return extension_of(source) or extension_of(path.name)

    def _http_client(self) -> GuardedClient:
        from autovid.netguard import GuardedClient

        return GuardedClient(
            allow_private=self._allow_private,
            allow_http=self._allow_http,
            timeout_s=self._timeout_s,
            allowed_networks=self._allowed_networks,
            resolver=self._resolver,
            verify=self._verify,
            # identity: the cap counts the bytes we store, and media does not compress anyway
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    def _s3(self) -> Any:
        with self._s3_lock:  # creating boto3 clients is not thread-safe
            if self._s3_client is None and self._s3_client_factory is not None:
                self._s3_client = self._s3_client_factory()
            if self._s3_client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=self._timeout_s,
                    read_timeout=self._timeout_s,
                    retries={"mode": "standard", "max_attempts": 1},  # our own loop retries
                )
                self._s3_client = boto3.client("s3", config=config)
            return self._s3_client


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
