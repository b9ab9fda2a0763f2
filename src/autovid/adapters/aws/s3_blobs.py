"""``BlobStore`` on Amazon S3: managed keys under ``assets/`` and ``outputs/`` in one bucket, plus
``s3://bucket/key`` destinations for outputs (the spec's ``output.destination``).

Uploads go through boto3's transfer manager (multipart above ``multipart_threshold_bytes``);
downloads land in a temporary file beside the destination and are renamed into place, so a
half-written file is never mistaken for an asset. ``download_url`` and ``upload_url`` are SigV4
pre-signed GET / PUT URLs. Note: a URL signed with temporary credentials (a Lambda role) stops
working when those credentials expire, whatever ``expires_s`` says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from autovid.adapters.aws.errors import NOT_FOUND_CODES, error_code, storage_error
from autovid.assets.ownership import check_key
from autovid.errors import StorageError, TransientStorageError
from autovid.files import atomic_write
from autovid.ports import BlobStore

MULTIPART_THRESHOLD_BYTES = 64 * 1024**2
MULTIPART_CHUNK_BYTES = 16 * 1024**2
MAX_PRESIGN_S = 604_800  # SigV4's limit: 7 days
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
UPLOAD_PREFIX = "assets"


class S3BlobStore(BlobStore):
    """Implements ``ports.BlobStore``; ``client`` is a boto3 S3 client (see ``clients.py``)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        prefixes: Sequence[str] = ("assets", "outputs"),
        transfer_config: TransferConfig | None = None,
        allow_other_buckets: bool = True,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefixes = tuple(prefixes)
        self.allow_other_buckets = allow_other_buckets
        self.transfer_config = transfer_config or TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD_BYTES,
            multipart_chunksize=MULTIPART_CHUNK_BYTES,
            max_concurrency=4,
        )

    # --- BlobStore -----------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        bucket, name = self.locate(key)
        extra = {"ContentType": content_type} if content_type else None
        try:
            self.client.upload_file(str(path), bucket, name, ExtraArgs=extra, Config=self.transfer_config)
        except S3UploadFailedError as exc:
            # boto3 folds the ClientError into the message; the cause keeps the code.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError | BotoCoreError):
                raise storage_error(cause, f"S3 upload to '{_uri(bucket, name)}'") from exc
            raise TransientStorageError(f"S3 upload to '{_uri(bucket, name)}' failed: {exc}") from exc
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"S3 upload to '{_uri(bucket, name)}'") from exc

    def get_file(self, key: str, dest: Path) -> None:
        bucket, name = self.locate(key)
        try:
            with atomic_write(dest) as temp:
                self.client.download_file(bucket, name, str(temp), Config=self.transfer_config)
        except (ClientError, BotoCoreError) as exc:
            raise self._read_error(exc, key, "S3 download") from exc

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except StorageError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def download_url(self, key: str, *, expires_s: int) -> tuple[str, datetime]:
        bucket, name = self.locate(key)
        return self._presign("get_object", {"Bucket": bucket, "Key": name}, expires_s)

    def uri(self, key: str) -> str | None:
        return _uri(*self.locate(key))

    # --- S3 only -------------------------------------------------------------------------------

    def upload_url(
        self, key: str, *, expires_s: int, content_type: str | None = None
    ) -> tuple[str, datetime]:
        """A pre-signed PUT URL for a client to upload an asset straight to S3 (API Gateway
        caps request bodies at 10 MB). Only ``assets/`` keys; with ``content_type`` the client
        must send that ``Content-Type``."""
        bucket, name = self.locate(key)
        if bucket != self.bucket or not name.startswith(f"{UPLOAD_PREFIX}/"):
            raise StorageError(f"uploads go to keys under '{UPLOAD_PREFIX}/', not '{key}'")
        params = {"Bucket": bucket, "Key": name}
        if content_type:
            params["ContentType"] = content_type
        return self._presign("put_object", params, expires_s)

    def delete(self, key: str) -> None:
        bucket, name = self.locate(key)
        try:
            self.client.delete_object(Bucket=bucket, Key=name)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"S3 delete of '{_uri(bucket, name)}'") from exc

    def locate(self, key: str) -> tuple[str, str]:
        """(bucket, object key) for a managed key or an ``s3://bucket/key`` URI; ``StorageError``
        for keys outside the managed prefixes or, when not allowed, other buckets."""
        if key.startswith("s3://"):
            bucket, _sep, name = key.removeprefix("s3://").partition("/")
            if not _BUCKET.match(bucket) or not name:
                raise StorageError(f"'{key}' is not an S3 URI like s3://bucket/outputs/video.mp4")
            if bucket != self.bucket:
                if not self.allow_other_buckets:
                    raise StorageError(f"'{key}': only the managed bucket '{self.bucket}' is allowed")
                check_key(name)
                return bucket, name
            key = name
        check_key(key)
        if key.split("/", 1)[0] not in self.prefixes:
            allowed = ", ".join(f"'{p}/'" for p in self.prefixes)
            raise StorageError(f"storage key '{key}' must start with {allowed}")
        return self.bucket, key

    # --- helpers -------------------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any]:
        bucket, name = self.locate(key)
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=name)
        except (ClientError, BotoCoreError) as exc:
            raise self._read_error(exc, key, "S3 lookup") from exc
        return head

    def _read_error(self, exc: Exception, key: str, what: str) -> StorageError | TransientStorageError:
        if isinstance(exc, ClientError) and error_code(exc) in NOT_FOUND_CODES:
            return StorageError(f"no file '{key}' in managed storage")
        return storage_error(exc, f"{what} of '{key}'")

    def _presign(self, operation: str, params: dict[str, Any], expires_s: int) -> tuple[str, datetime]:
        if not 1 <= int(expires_s) <= MAX_PRESIGN_S:
            raise StorageError(f"pre-signed URL lifetime must be 1-{MAX_PRESIGN_S} s, not {expires_s}")
        expires_at = datetime.now(UTC) + timedelta(seconds=int(expires_s))
        try:
            url: str = self.client.generate_presigned_url(operation, Params=params, ExpiresIn=int(expires_s))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"signing a URL for '{_uri(params['Bucket'], params['Key'])}'") from exc
        return url, expires_at


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
