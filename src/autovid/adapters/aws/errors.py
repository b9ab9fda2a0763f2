"""Translate botocore errors into autovid's typed errors (one place for every AWS adapter)."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from autovid.errors import StorageError, TransientStorageError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KMS.ThrottlingException",
    }
)
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_CONFIG_ERRORS = (NoCredentialsError, PartialCredentialsError, NoRegionError, ParamValidationError)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(exc: ClientError) -> bool:
    status = http_status(exc)
    return error_code(exc) in TRANSIENT_CODES or status >= 500 or status == 429


def storage_error(exc: Exception, what: str) -> StorageError | TransientStorageError:
    """``what`` names the operation and object, e.g. ``"S3 upload of 's3://b/outputs/x.mp4'"``."""
    if isinstance(exc, ClientError):
        code = error_code(exc) or str(http_status(exc))
        message = exc.response.get("Error", {}).get("Message") or code
        if is_transient(exc):
            return TransientStorageError(f"{what} failed, try again later ({code}: {message})")
        return StorageError(f"{what} was refused ({code}: {message})")
    if isinstance(exc, _CONFIG_ERRORS):
        return StorageError(f"{what} failed: AWS client is misconfigured ({exc})")
    if isinstance(exc, BotoCoreError):  # endpoint unreachable, timeouts, broken connections
        return TransientStorageError(f"{what} failed, try again later ({exc})")
    return TransientStorageError(f"{what} failed: {type(exc).__name__}: {exc}")
