"""API keys: generation, hashing, the ``KeyStore`` port and the errors callers map to 403/429.

A key is 32 random bytes (URL-safe text with an ``avk_`` prefix, so secret scanners can spot a
leaked one). It is shown once, when created; stores keep only its SHA-256 and a short public id
(``key_…``) that owns jobs and appears in logs. A key never appears in a log or an error message.
"""

from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from autovid.auth.plans import UsagePlan
from autovid.errors import AutovidError

KEY_PREFIX = "avk_"
KEY_BYTES = 32
MAX_KEY_CHARS = 256
MAX_NAME_CHARS = 100


class ForbiddenError(AutovidError):
    """The request has no key, an unknown key or a revoked key (403)."""


class RateLimitedError(AutovidError):
    """The key's usage plan refuses this request now (429); ``retry_after_s`` says when to retry."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class KeyNotFoundError(AutovidError):
    """No key with that id (administration commands)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    plan: UsagePlan
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    requests_today: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def generate_key() -> tuple[str, str]:
    """A new (key id, secret key)."""
    return "key_" + secrets.token_hex(6), KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(secret: str) -> str:
    # The key carries 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME_CHARS:
        raise ValueError(f"a key name must be 1-{MAX_NAME_CHARS} characters")
    return name


class KeyStore(ABC):
    """Keys, their usage plans and their usage, shared by every process of a deployment."""

    @abstractmethod
    def create(self, *, name: str, plan: UsagePlan | None = None) -> tuple[ApiKey, str]:
        """Store a new key; returns it and its secret (the only time the secret is seen)."""

    @abstractmethod
    def list(self) -> list[ApiKey]: ...

    @abstractmethod
    def get(self, key_id: str) -> ApiKey:
        """``KeyNotFoundError`` when there is no such key."""

    @abstractmethod
    def revoke(self, key_id: str) -> ApiKey: ...

    @abstractmethod
    def set_plan(self, key_id: str, plan: UsagePlan) -> ApiKey: ...

    @abstractmethod
    def admit(self, secret: str) -> str:
        """Check the key and count one request against its plan, atomically; return the key id.
        ``ForbiddenError`` for an unknown or revoked key, ``RateLimitedError`` over the plan."""
