"""API keys, usage plans and rate limits: pure logic and the ``KeyStore`` port.

The SQLite key store is ``autovid.adapters.local.sqlite_keys.SqliteKeyStore``; on AWS, API
Gateway owns keys and plans and ``ApiGatewayAuthenticator`` reads the caller's key id.
"""

from autovid.auth.authenticators import (
    API_KEY_HEADER,
    ApiGatewayAuthenticator,
    Authenticator,
    LocalAuthenticator,
)
from autovid.auth.keys import (
    ApiKey,
    ForbiddenError,
    KeyNotFoundError,
    KeyStore,
    RateLimitedError,
    generate_key,
    hash_key,
)
from autovid.auth.plans import Decision, Usage, UsagePlan, admit, retry_after_header

__all__ = [
    "API_KEY_HEADER",
    "ApiGatewayAuthenticator",
    "ApiKey",
    "Authenticator",
    "Decision",
    "ForbiddenError",
    "KeyNotFoundError",
    "KeyStore",
    "LocalAuthenticator",
    "RateLimitedError",
    "Usage",
    "UsagePlan",
    "admit",
    "generate_key",
    "hash_key",
    "retry_after_header",
]
