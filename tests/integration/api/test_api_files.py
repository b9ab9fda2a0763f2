"""Uploads into managed storage, and outputs served through signed, expiring URLs."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import av
import pytest

from autovid.jobs.worker import run_worker


def completed_output_url(api: Any, secret: str, tiny_video: Path, minimal_spec: Any) -> str:
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        job_id = client.post("/submit", json=minimal_spec(source)).json()["jobId"]
        run_worker(api.container, threading.Event(), drain=True)
        doc = client.get(f"/status/{job_id}").json()
    assert doc["status"] == "completed", doc["error"]
    url: str = doc["output"]["url"]
    return url


def test_an_upload_is_stored_under_a_fresh_key_and_usable_in_a_spec(
    api: Any, tiny_video: Path, minimal_spec: Any
) -> None:
    _, secret = api.new_key()
    data = tiny_video.read_bytes()
    with api.client(secret) as client:
        first = client.post("/assets", params={"filename": "base.mp4"}, content=data)
        second = client.post("/assets", params={"filename": "base.mp4"}, content=data)
        submitted = client.post("/submit", json=minimal_spec(first.json()["source"]))

    assert first.status_code == 201
    doc = first.json()
    assert doc["source"].startswith("assets/") and doc["source"].endswith("/base.mp4")
    assert doc["source"] != second.json()["source"]  # never overwrites another upload
    assert doc["size"] == len(data) and doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["uri"] is None
    assert api.container.blobs.path_for(doc["source"]).read_bytes() == data
    assert submitted.status_code == 200, submitted.text


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("../escape.mp3", "plain file name"),
        ("a/b.mp3", "plain file name"),
        (".hidden.mp3", "plain file name"),
        ("notes.txt", "must end with one of"),
        ("", "is required"),
    ],
)
def test_a_bad_upload_name_is_400(api: Any, filename: str, problem: str) -> None:
    _, secret = api.new_key()
    with api.client(secret) as client:
        response = client.post("/assets", params={"filename": filename}, content=b"data")
    assert response.status_code == 400
    (detail,) = response.json()["details"]
    assert detail["path"] == "query.filename" and problem in detail["message"]


def test_an_upload_over_the_cap_is_413_and_leaves_nothing(api_factory: Any) -> None:
    api = api_factory(max_upload_bytes=4096)
    _, secret = api.new_key()

    def chunks() -> Any:  # streamed without a Content-Length: counted as it arrives
        for _ in range(10):
            yield b"\0" * 1024

    with api.client(secret) as client:
        declared = client.post("/assets", params={"filename": "big.wav"}, content=b"\0" * 5000)
        streamed = client.post("/assets", params={"filename": "big.wav"}, content=chunks())

    assert declared.status_code == 413 and streamed.status_code == 413
    assert declared.json()["limit"] == 4096
    assets = api.container.settings.data_dir / "files" / "assets"
    assert not assets.exists() or not any(p.is_file() for p in assets.rglob("*"))
    assert not any((api.container.settings.data_dir / "tmp").iterdir())  # spooled parts removed


def test_the_signed_output_url_serves_a_playable_mp4_without_a_key(
    api: Any, tiny_video: Path, minimal_spec: Any, tmp_path: Path
) -> None:
    _, secret = api.new_key()
    url = completed_output_url(api, secret, tiny_video, minimal_spec)

    response = api.http.get(url)  # no X-API-Key: the signature is the credential
    head = api.http.head(url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(response.content)
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(response.content)
    with av.open(str(path)) as media:
        assert media.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in media.decode(video=0)) == 10  # 1 s at 10 fps


def test_a_tampered_or_expired_url_is_403(api: Any, tiny_video: Path, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    url = completed_output_url(api, secret, tiny_video, minimal_spec)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    key = parts.path.removeprefix("/files/")
    base = f"{api.url}/files/"
    flipped = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")

    expires, signature = query["expires"], query["signature"]
    other_key = quote(key.replace("my-video", "other"))

    tampered = [
        f"{base}{key}?expires={expires}&signature={flipped}",
        f"{base}{key}?expires={int(expires) + 1}&signature={signature}",
        f"{base}{other_key}?expires={expires}&signature={signature}",
        f"{base}{key}",
    ]
    expired_url, _ = api.container.blobs.download_url(key, expires_s=-5)

    for bad in [*tampered, expired_url]:
        response = api.http.get(bad)
        assert response.status_code == 403, bad
        assert response.json()["message"] == "Forbidden"
    assert "expired" in api.http.get(expired_url).json()["reason"]


def test_upload_urls_are_an_aws_feature_locally_the_body_goes_to_post_assets(api: Any) -> None:
    _, secret = api.new_key()
    with api.client(secret) as client:
        answer = client.post("/assets/upload-url", params={"filename": "music.mp3"})
    assert answer.status_code == 404
    assert "POST /assets" in answer.json()["message"]
