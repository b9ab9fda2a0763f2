"""``https://`` asset sources: a streamed GET through the network guard, redirects vetted hop by hop.

``HttpsTransport`` implements ``ports.SourceTransport`` for the asset fetcher; one guarded httpx
client (thread-safe, pooled) serves every download until ``close``. httpx and the guard load with
the first download (``https_download``), so a render of local files never imports them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autovid.ports import SourceTransport

if TYPE_CHECKING:
    from autovid.netguard import GuardedClient, IPNetwork, Resolver

USER_AGENT = "autovid (asset fetcher)"


class HttpsTransport(SourceTransport):
    """``allowed_networks`` lets URLs reach just these private networks (an internal asset
    server); ``allow_private`` (development only) lets them reach any address."""

    def __init__(
        self,
        *,
        timeout_s: float,
        allow_private: bool,
        allow_http: bool,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver | None = None,
        verify: Any = True,
    ) -> None:
        self._options: dict[str, Any] = {
            "timeout_s": timeout_s,
            "allow_private": allow_private,
            "allow_http": allow_http,
            "allowed_networks": tuple(allowed_networks),
            "resolver": resolver,
            "verify": verify,
        }
        self._client: GuardedClient | None = None
        self._lock = threading.Lock()

    def download(self, source: str, part: Path, *, max_bytes: int, abort: threading.Event) -> str:
        from autovid.adapters.http.https_download import download_https

        return download_https(self._guarded_client(), source, part, max_bytes=max_bytes, abort=abort)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _guarded_client(self) -> GuardedClient:
        with self._lock:
            if self._client is None:
                from autovid.netguard import GuardedClient

                self._client = GuardedClient(
                    **self._options,
                    # identity: the cap counts the bytes we store, and media does not compress anyway
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                )
            return self._client
