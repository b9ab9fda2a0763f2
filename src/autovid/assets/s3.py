"""``s3://bucket/key`` source URIs: their syntax (the download is an adapter,
``autovid.adapters.aws.s3_fetch``)."""

from __future__ import annotations

import re

from autovid.assets.common import FetchRefused

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def parse_s3_uri(source: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    rest = source.removeprefix("s3://")
    bucket, _sep, key = rest.partition("/")
    if not bucket or not key:
        raise FetchRefused(f"'{source}' needs a bucket and a key, like s3://bucket/assets/intro.mp3")
    if not _BUCKET.match(bucket):
        raise FetchRefused(f"'{bucket}' is not a valid S3 bucket name")
    return bucket, key
