"""s3:// sources against moto's S3 server (a real HTTP endpoint on 127.0.0.1)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from autovid.adapters.aws.clients import make_clients
from autovid.adapters.aws.s3_fetch import S3Transport
from autovid.assets import AssetFetcher, FetchPolicy, LocalFiles
from autovid.config import Settings
from autovid.errors import AssetError, TransientAssetError
from autovid.spec.models import AudioAsset, VideoAsset

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from conftest import S3Endpoint

DATA = os.urandom(300_000)  # more than one 256 KiB read chunk


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> str:
    name = f"media-{uuid.uuid4().hex[:12]}"
    s3_endpoint.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def s3_fetcher(client: Any, **overrides: object) -> AssetFetcher:
    settings: dict[str, object] = {"max_bytes": 1_000_000, "retries": 1, "backoff_base_s": 0.01}
    transport = S3Transport(client) if client is not None else S3Transport(client_factory=ambient_client)
    return AssetFetcher(LocalFiles(), FetchPolicy(**{**settings, **overrides}), s3=transport)  # type: ignore[arg-type]


def ambient_client() -> Any:
    """The client the CLI makes on its first s3:// source: the ambient credentials and endpoint."""
    return make_clients(Settings()).s3


def test_existing_object_downloads_with_its_extension(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key="assets/u1/bed.flac", Body=DATA)  # type: ignore[attr-defined]
    client.put_object(Bucket=bucket, Key="assets/u1/base.mp4", Body=b"video")  # type: ignore[attr-defined]
    assets = [
        AudioAsset(id="bed", source=f"s3://{bucket}/assets/u1/bed.flac"),
        VideoAsset(id="video", source=f"s3://{bucket}/assets/u1/base.mp4"),
    ]

    paths = s3_fetcher(client).fetch_all(assets, tmp_path)

    assert paths["bed"].read_bytes() == DATA
    assert (paths["bed"].suffix, paths["video"].suffix) == (".flac", ".mp4")


def test_extension_from_content_type_when_the_key_has_none(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key="assets/voice", Body=b"x", ContentType="audio/wav")  # type: ignore[attr-defined]

    paths = s3_fetcher(client).fetch_all([AudioAsset(id="v", source=f"s3://{bucket}/assets/voice")], tmp_path)

    assert paths["v"].suffix == ".wav"


def test_missing_key_names_the_asset(s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(AssetError) as caught:
        s3_fetcher(s3_endpoint.client()).fetch_all(
            [AudioAsset(id="jingle", source=f"s3://{bucket}/assets/missing.mp3")], tmp_path
        )

    assert caught.value.asset_id == "jingle"
    assert "not found" in caught.value.reason
    assert str(caught.value).startswith("asset 'jingle':")
    assert list(tmp_path.iterdir()) == []


def test_missing_bucket_is_permanent(s3_endpoint: S3Endpoint, tmp_path: Path) -> None:
    with pytest.raises(AssetError) as caught:
        s3_fetcher(s3_endpoint.client()).fetch_all(
            [AudioAsset(id="a", source="s3://no-such-bucket-here/a.mp3")], tmp_path
        )

    assert "not found" in caught.value.reason


def test_oversize_object_is_refused(s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path) -> None:
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key="assets/huge.wav", Body=DATA)  # type: ignore[attr-defined]

    with pytest.raises(AssetError) as caught:
        s3_fetcher(client, max_bytes=100_000).fetch_all(
            [AudioAsset(id="huge", source=f"s3://{bucket}/assets/huge.wav")], tmp_path
        )

    assert "too large: 300000 bytes, the limit is 100000 bytes" in caught.value.reason
    assert list(tmp_path.iterdir()) == []


def test_unreachable_endpoint_is_transient(closed_port: int, tmp_path: Path) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )

    with pytest.raises(TransientAssetError) as caught:
        s3_fetcher(client, retries=1).fetch_all([AudioAsset(id="a", source="s3://bucket/a.mp3")], tmp_path)

    assert "Could not connect" in caught.value.reason and "2 attempts" in caught.value.reason


def test_client_is_created_lazily_from_the_environment(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_endpoint.client().put_object(Bucket=bucket, Key="a.mp3", Body=b"abc")  # type: ignore[attr-defined]
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)

    paths = s3_fetcher(None).fetch_all([AudioAsset(id="a", source=f"s3://{bucket}/a.mp3")], tmp_path)

    assert paths["a"].read_bytes() == b"abc"
