"""Webhook delivery (docs/API.md): signed JSON, at most 3 attempts, backoff 1 s then 2 s, no retry
on 4xx, 30 s per request, the target checked by the SSRF guard before every attempt.

Receivers verify ``X-Autovid-Signature: sha256=<hex>``, an HMAC-SHA256 with the deployment's
webhook secret over ``f"{X-Autovid-Timestamp}.{raw body}"``, and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from autovid.errors import AutovidError, RetryableError
from autovid.jobs.model import isoformat, utcnow
from autovid.netguard import GuardedClient, guarded_request, redact_url

TIMESTAMP_HEADER = "X-Autovid-Timestamp"
SIGNATURE_HEADER = "X-Autovid-Signature"
# Headers a spec may not set: they carry the signature or describe the body we send.
_RESERVED = {"content-type", "content-length", "host", "transfer-encoding", "connection"}
_USER_AGENT = "autovid-webhook/1"


def sign_payload(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does; also used by the tests."""
    return hmac.compare_digest(sign_payload(secret, timestamp, body), signature)


@dataclass(frozen=True)
class Delivery:
    """The outcome recorded on the job."""

    url: str
    method: str
    delivered: bool
    attempts: int
    status_code: int | None
    error: str | None
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "statusCode": self.status_code,
            "error": self.error,
            "at": self.at,
        }


class WebhookSender:
    def __init__(
        self,
        secret: bytes,
        *,
        timeout_s: float = 30.0,
        retry_delays_s: Sequence[float] = (1.0, 2.0, 4.0),
        max_attempts: int = 3,
        allow_private: bool = False,
        allow_http: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        client_factory: Callable[[float], GuardedClient] | None = None,
    ) -> None:
        self._secret = secret
        self._timeout_s = timeout_s
        self._delays_s = tuple(retry_delays_s)
        self._max_attempts = max_attempts
        self._allow_private = allow_private
        self._allow_http = allow_http
        self._sleep = sleep
        self._client_factory = client_factory or self._guarded_client

    def deliver(
        self, url: str, payload: Mapping[str, Any], *, method: str = "POST", headers: Mapping[str, str] = {}
    ) -> Delivery:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        status: int | None = None
        error: str | None = None
        attempt = 0
        with self._client_factory(self._timeout_s) as client:
            for attempt in range(1, self._max_attempts + 1):
                status, error, retry = self._attempt(client, url, method, headers, body)
                if status is not None and 200 <= status < 300:
                    return self._result(redact_url(url), method, True, attempt, status, None)
                if not retry or attempt == self._max_attempts:
                    break
                self._sleep(self._delays_s[min(attempt - 1, len(self._delays_s) - 1)])
        return self._result(redact_url(url), method, False, attempt, status, error)

    def _attempt(
        self, client: GuardedClient, url: str, method: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int | None, str | None, bool]:
        """(status code, error, worth retrying) for one request."""
        timestamp = str(int(time.time()))
        request_headers = {
            **{k: v for k, v in headers.items() if k.lower() not in _RESERVED and not _ours(k)},
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_payload(self._secret, timestamp, body),
        }
        try:
            response = guarded_request(
                client,
                method,
                url,
                allow_private=self._allow_private,
                allow_http=self._allow_http,
                content=body,
                headers=request_headers,
            )
        except RetryableError as exc:  # e.g. a temporary DNS failure
            return None, exc.message, True
        except AutovidError as exc:  # the SSRF guard refused the target
            return None, exc.message, False
        except httpx.TimeoutException:
            return None, f"timed out after {self._timeout_s:g} s", True
        except httpx.HTTPError as exc:
            return None, f"request failed: {type(exc).__name__}: {exc}", True
        code = response.status_code
        if 200 <= code < 300:
            return code, None, False
        reason = f"HTTP {code} {response.reason_phrase}".strip()
        # 4xx: the receiver refused; 3xx: we do not follow redirects. Only 5xx may pass later.
        return code, reason, code >= 500

    def _guarded_client(self, timeout_s: float) -> GuardedClient:
        # Pinned to vetted addresses, no redirects (a 3xx could point past the SSRF guard).
        return GuardedClient(
            allow_private=self._allow_private, allow_http=self._allow_http, timeout_s=timeout_s
        )

    @staticmethod
    def _result(
        url: str, method: str, delivered: bool, attempts: int, status: int | None, error: str | None
    ) -> Delivery:
        return Delivery(url, method, delivered, attempts, status, error, isoformat(utcnow()) or "")


def _ours(name: str) -> bool:
    return name.lower().startswith("x-autovid-")
