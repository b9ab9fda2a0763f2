"""One ``s3://`` object downloaded through a boto3 S3 client; botocore errors become fetch
outcomes (``S3Transport``'s download: botocore loads with it, on a job's first s3:// source)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from autovid.adapters.aws.errors import error_code, http_status, is_transient
from autovid.assets.common import (
    CHUNK_BYTES,
    FetchFailed,
    FetchRefused,
    extension_for_content_type,
    extension_of,
    too_large,
    write_capped,
)

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_DENIED_CODES = frozenset(
    {"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
# Worth another try when fetching, beyond what every AWS adapter retries (``is_transient``).
_FETCH_RETRY_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        # the object changed between head_object and get_object: fetch again
        "PreconditionFailed",
        "412",
    }
)
_PERMANENT_BOTOCORE = (NoCredentialsError, PartialCredentialsError, NoRegionError, ParamValidationError)


def download_s3(
    client: Any, bucket: str, key: str, part: Path, *, max_bytes: int, abort: threading.Event
) -> str:
    """Download the object into ``part``; return its extension (from the key, else its
    Content-Type). Raises ``FetchRefused`` / ``FetchFailed``."""
    uri = f"s3://{bucket}/{key}"
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        size_bytes = int(head["ContentLength"])
        if size_bytes > max_bytes:
            raise too_large(size_bytes, max_bytes)
        # IfMatch: the bytes we get are the object we measured, not a bigger replacement.
        response = client.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])
        body = response["Body"]
        try:
            write_capped(body.iter_chunks(CHUNK_BYTES), part, max_bytes=max_bytes, abort=abort)
        finally:
            body.close()
    except ClientError as exc:
        raise _client_error(exc, uri) from exc
    except _PERMANENT_BOTOCORE as exc:
        raise FetchRefused(f"{uri}: {exc}") from exc
    except BotoCoreError as exc:
        # endpoint unreachable, connect/read timeouts, broken streams
        raise FetchFailed(f"{uri}: {exc}") from exc
    return extension_of(key) or extension_for_content_type(head.get("ContentType"))


def _client_error(exc: ClientError, uri: str) -> FetchRefused | FetchFailed:
    error = exc.response.get("Error", {})
    code = error_code(exc)
    status = http_status(exc)
    if code in _NOT_FOUND_CODES:
        return FetchRefused(f"{uri}: not found ({code})")
    if code in _DENIED_CODES:
        return FetchRefused(f"{uri}: access denied ({code})")
    if is_transient(exc) or code in _FETCH_RETRY_CODES:
        return FetchFailed(f"{uri}: S3 answered {code or status}, try again later")
    message = error.get("Message") or code
    return FetchRefused(f"{uri}: S3 refused the request ({code}: {message})")
