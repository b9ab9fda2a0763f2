"""A streamed ``https://`` GET of one asset through the network guard, redirects vetted hop by hop
(``HttpsTransport``'s download; httpx loads with it, on a job's first URL source)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from autovid.assets.common import (
    FetchFailed,
    FetchRefused,
    extension_for_content_type,
    extension_of,
    too_large,
    write_capped,
)
from autovid.netguard import GuardedClient, UrlRefusedError, UrlResolutionError, redact_url

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# 408 and 429 are the server saying "not now": as transient as a 5xx.
_TRANSIENT_4XX = frozenset({408, 429})


def download_https(
    client: GuardedClient, url: str, part: Path, *, max_bytes: int, abort: threading.Event
) -> str:
    """Download ``url`` into ``part``; return the file extension (from the URL, else the
    Content-Type). Raises ``FetchRefused`` / ``FetchFailed``."""
    shown = redact_url(url)
    try:
        return _follow_redirects(client, url, part, max_bytes=max_bytes, abort=abort)
    except UrlRefusedError as exc:
        raise FetchRefused(str(exc)) from exc
    except UrlResolutionError as exc:
        raise FetchFailed(exc.message) from exc
    except httpx.TimeoutException as exc:
        timeout_s = client.timeout.read
        raise FetchFailed(f"{shown}: no answer within {timeout_s} s ({type(exc).__name__})") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.DecodingError) as exc:
        raise FetchRefused(f"{shown}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{shown}: connection failed ({type(exc).__name__}: {exc})") from exc


def _follow_redirects(
    client: GuardedClient, url: str, part: Path, *, max_bytes: int, abort: threading.Event
) -> str:
    current = httpx.URL(url)
    for _hop in range(MAX_REDIRECTS + 1):
        # Every hop is vetted: a public URL may redirect to a private one.
        client.check(current)
        with client.stream("GET", current) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                current = response.url.join(location)
                continue
            _raise_for_status(response)
            _check_declared_length(response, max_bytes)
            # no chunk_size: pieces arrive as the network delivers them, so abort is seen promptly
            write_capped(response.iter_bytes(), part, max_bytes=max_bytes, abort=abort)
            return (
                extension_of(httpx.URL(url).path)
                or extension_of(response.url.path)
                or extension_for_content_type(response.headers.get("content-type"))
            )
    raise FetchRefused(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    shown = redact_url(response.url)
    if status >= 500 or status in _TRANSIENT_4XX:
        raise FetchFailed(f"{shown}: HTTP {status} {response.reason_phrase}")
    if status == 404 or status == 410:
        raise FetchRefused(f"{shown}: not found (HTTP {status})")
    if status in (401, 403):
        raise FetchRefused(f"{shown}: access denied (HTTP {status})")
    raise FetchRefused(f"{shown}: unexpected answer HTTP {status} {response.reason_phrase}")


def _check_declared_length(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(int(declared), max_bytes)
