"""S3 error translation, with botocore's Stubber standing in for answers moto cannot give (503s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from autovid.adapters.aws.s3_fetch import S3Transport
from autovid.assets import AssetFetcher, FetchPolicy, LocalFiles
from autovid.errors import AssetError, TransientAssetError
from autovid.spec.models import AudioAsset

SOURCE = "s3://media-bucket/assets/music.mp3"
HEAD_PARAMS = {"Bucket": "media-bucket", "Key": "assets/music.mp3"}


@pytest.fixture
def s3_client() -> Any:
    return boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def fetch(client: Any, dest: Path, settings: dict[str, object], source: str = SOURCE) -> dict[str, Path]:
    fetcher = AssetFetcher(LocalFiles(), FetchPolicy(**settings), s3=S3Transport(client))  # type: ignore[arg-type]
    return fetcher.fetch_all([AudioAsset(id="music", source=source)], dest)


@pytest.mark.parametrize(
    ("code", "status"),
    [("SlowDown", 503), ("ServiceUnavailable", 503), ("InternalError", 500), ("ThrottlingException", 400)],
)
def test_throttling_and_5xx_are_retried_then_transient(
    s3_client: Any, dest: Path, fetch_settings: dict[str, object], code: str, status: int
) -> None:
    with Stubber(s3_client) as stubber:
        for _attempt in range(3):
            stubber.add_client_error(
                "head_object", code, http_status_code=status, expected_params=HEAD_PARAMS
            )

        with pytest.raises(TransientAssetError) as caught:
            fetch(s3_client, dest, fetch_settings)

        stubber.assert_no_pending_responses()  # exactly 1 attempt + 2 retries
    assert caught.value.asset_id == "music"
    assert code in caught.value.reason


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("404", 404, "not found"),
        ("NoSuchBucket", 404, "not found"),
        ("403", 403, "access denied"),
        ("AccessDenied", 403, "access denied"),
        ("InvalidObjectState", 403, "S3 refused the request"),
    ],
)
def test_missing_and_forbidden_are_permanent_after_one_request(
    s3_client: Any, dest: Path, fetch_settings: dict[str, object], code: str, status: int, says: str
) -> None:
    with Stubber(s3_client) as stubber:
        stubber.add_client_error("head_object", code, http_status_code=status, expected_params=HEAD_PARAMS)

        with pytest.raises(AssetError) as caught:
            fetch(s3_client, dest, fetch_settings)

        stubber.assert_no_pending_responses()
    assert says in caught.value.reason
    assert SOURCE in caught.value.reason


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("s3://", "needs a bucket and a key"),
        ("s3://bucket-only", "needs a bucket and a key"),
        ("s3://bucket/", "needs a bucket and a key"),
        ("s3://Bad_Bucket/key.mp3", "not a valid S3 bucket name"),
    ],
)
def test_malformed_s3_uris_are_refused(
    s3_client: Any, dest: Path, fetch_settings: dict[str, object], source: str, says: str
) -> None:
    with Stubber(s3_client) as stubber, pytest.raises(AssetError) as caught:
        fetch(s3_client, dest, fetch_settings, source=source)

    stubber.assert_no_pending_responses()
    assert says in caught.value.reason
