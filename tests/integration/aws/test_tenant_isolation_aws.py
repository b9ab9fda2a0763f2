"""On AWS the owner is API Gateway's ``apiKeyId``: uploads through pre-signed URLs land under it,
and one key cannot name another key's objects, not even as ``s3://`` URIs of the managed bucket.
API Gateway events to the API Lambda; S3 is moto's server on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from conftest import Lambdas

pytestmark = pytest.mark.slow


def spec(source: str, **output: str) -> dict[str, Any]:
    return {
        "assets": {"video": {"id": "main", "source": source}},
        "timeline": [],
        "output": {"filename": "out.mp4", **output},
    }


def refusals(response: dict[str, Any]) -> dict[str, str]:
    assert response["statusCode"] == 400, response["body"]
    return {d["path"]: d["message"] for d in json.loads(response["body"])["details"]}


def missing_file_message(key: str) -> str:
    return f"no file '{key}' in managed storage; upload it first (POST /assets)"


def test_another_keys_upload_is_refused_in_every_form(lambdas: Lambdas, tiny_video: Path) -> None:
    bucket = lambdas.resources.bucket
    # GIVEN key A's upload through a pre-signed PUT
    upload = json.loads(lambdas.api("POST", "/assets/upload-url", query={"filename": "base.mp4"})["body"])
    assert upload["source"].startswith(f"assets/{lambdas.owner}/")
    httpx.put(upload["uploadUrl"], content=tiny_video.read_bytes(), headers=upload["headers"], timeout=10)
    key = upload["source"]

    # WHEN key B names it as a managed key and as an s3:// URI of the managed bucket
    as_key = refusals(lambdas.api("POST", "/submit", owner="key-b", body=spec(key)))
    as_uri = refusals(lambdas.api("POST", "/submit", owner="key-b", body=spec(f"s3://{bucket}/{key}")))
    into_a = refusals(
        lambdas.api(
            "POST",
            "/submit",
            owner="key-b",
            body=spec(key, destination=f"s3://{bucket}/outputs/{lambdas.owner}/"),
        )
    )
    own = lambdas.api("POST", "/submit", body=spec(f"s3://{bucket}/{key}"))

    # THEN B is told what a missing file gets; A's own submit passes
    assert as_key == {"assets.video.source": missing_file_message(key)}
    assert as_uri == {"assets.video.source": missing_file_message(key)}
    assert "is outside your outputs" in into_a["output.destination"]
    assert own["statusCode"] == 200, own["body"]


def test_s3_sources_reach_only_the_managed_bucket_and_the_configured_ones(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.entrypoints.lambdas import api, container

    media = f"team-media-{uuid.uuid4().hex[:8]}"
    lambdas.clients.s3.create_bucket(Bucket=media)
    lambdas.clients.s3.put_object(Bucket=media, Key="intro.mp4", Body=b"not checked at submit")
    before = refusals(lambdas.api("POST", "/submit", body=spec(f"s3://{media}/intro.mp4")))

    monkeypatch.setenv("AUTOVID_S3_SOURCE_BUCKETS", media)
    container.cache_clear()
    api.asgi_adapter.cache_clear()
    after = lambdas.api("POST", "/submit", body=spec(f"s3://{media}/intro.mp4"))

    assert f"bucket '{media}' is not allowed for s3:// sources" in before["assets.video.source"]
    assert after["statusCode"] == 200, after["body"]
