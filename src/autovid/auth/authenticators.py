"""Who is calling: the owner id of a request, from the ``X-API-Key`` header or from API Gateway.

Embedded, ``LocalAuthenticator`` checks the key and its usage plan in the ``KeyStore``. On AWS,
API Gateway has already checked the key and enforced the usage plan before the request reaches
Lambda; ``ApiGatewayAuthenticator`` only reads the key's id from the event Mangum attached to the
ASGI scope (``scope["aws.event"]["requestContext"]["identity"]["apiKeyId"]``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from autovid.auth.keys import MAX_KEY_CHARS, ForbiddenError, KeyStore

API_KEY_HEADER = "X-API-Key"


class Authenticator(ABC):
    @abstractmethod
    def authenticate(self, api_key: str | None, scope: Mapping[str, Any]) -> str:
        """The owner id of the request (the key's id); ``ForbiddenError`` or
        ``RateLimitedError`` otherwise."""


class LocalAuthenticator(Authenticator):
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def authenticate(self, api_key: str | None, scope: Mapping[str, Any]) -> str:
        if not api_key or len(api_key) > MAX_KEY_CHARS:
            raise ForbiddenError(f"missing or malformed {API_KEY_HEADER} header")
        return self.keys.admit(api_key)


class ApiGatewayAuthenticator(Authenticator):
    """Trusts API Gateway (REST API with ``ApiKeyRequired``), which rejects bad keys with 403 and
    over-plan requests with 429 before Lambda runs."""

    def authenticate(self, api_key: str | None, scope: Mapping[str, Any]) -> str:
        event = scope.get("aws.event") or {}
        identity = (event.get("requestContext") or {}).get("identity") or {}
        key_id = identity.get("apiKeyId")
        if not isinstance(key_id, str) or not key_id:
            # Only reachable when a route was deployed without ApiKeyRequired: refuse, never guess.
            raise ForbiddenError("API Gateway passed no apiKeyId for this request")
        return key_id
