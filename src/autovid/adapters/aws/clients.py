"""boto3 clients for the AWS adapters, made once per bootstrap (never at import).

Every client uses the configured region and, when set, a local endpoint (moto, LocalStack), so
the same code runs against AWS and an emulator. S3 signs with SigV4 (pre-signed URLs need it)
and uses path-style addresses against an emulator, where ``bucket.127.0.0.1`` cannot resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from autovid.config import Settings

# botocore's own retries absorb throttling and 5xx bursts before our code sees an error.
_RETRIES = {"mode": "standard", "max_attempts": 4}
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0  # above SQS's 20 s long poll and slow multipart parts


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    sqs: Any
    dynamodb: Any
    polly: Any


def make_clients(settings: Settings, *, session: boto3.session.Session | None = None) -> AwsClients:
    """Clients from ``session`` (tests pass one with dummy credentials), else a new session with
    the ambient credentials (the Lambda role, a profile)."""
    # A session per bootstrap: boto3's default session is not thread-safe to create clients from.
    session = session or boto3.session.Session(region_name=settings.aws_region)
    endpoint = settings.aws_endpoint_url
    region = settings.aws_region
    return AwsClients(
        s3=session.client("s3", region, endpoint_url=endpoint, config=s3_config(endpoint)),
        sqs=session.client("sqs", region, endpoint_url=endpoint, config=base_config()),
        dynamodb=session.client("dynamodb", region, endpoint_url=endpoint, config=base_config()),
        polly=session.client("polly", region, endpoint_url=endpoint, config=base_config()),
    )


def base_config() -> Config:
    return Config(
        retries=_RETRIES,  # type: ignore[arg-type]
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=20,
    )


def s3_config(endpoint_url: str | None) -> Config:
    addressing = "path" if endpoint_url else "virtual"
    return base_config().merge(Config(signature_version="s3v4", s3={"addressing_style": addressing}))
