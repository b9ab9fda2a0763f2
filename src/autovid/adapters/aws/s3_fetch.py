"""``s3://bucket/key`` asset sources through a boto3 S3 client; botocore errors become fetch outcomes.

``S3Transport`` implements ``ports.SourceTransport`` for the asset fetcher. Which buckets a job
may name is the fetcher's policy; this only downloads (``s3_download``, which loads botocore with
the first s3:// source, so a render of local files never imports it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autovid.assets.s3 import parse_s3_uri
from autovid.ports import SourceTransport


class S3Transport(SourceTransport):
    """Downloads with ``client``, or with the client ``client_factory`` makes on the first
    ``s3://`` source (so a CLI render without one never loads boto3)."""

    def __init__(self, client: Any = None, *, client_factory: Callable[[], Any] | None = None) -> None:
        if client is None and client_factory is None:
            raise ValueError("S3Transport needs a client or a client_factory")
        self._client = client
        self._factory = client_factory
        self._lock = threading.Lock()

    def download(self, source: str, part: Path, *, max_bytes: int, abort: threading.Event) -> str:
        from autovid.adapters.aws.s3_download import download_s3

        bucket, key = parse_s3_uri(source)
        return download_s3(self._s3(), bucket, key, part, max_bytes=max_bytes, abort=abort)

    def _s3(self) -> Any:
        with self._lock:  # creating boto3 clients is not thread-safe
            if self._client is None:
                assert self._factory is not None
                self._client = self._factory()
            return self._client
