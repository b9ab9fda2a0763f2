"""The BlobStore contract, run against every implementation in ``BLOB_BACKENDS``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autovid.errors import StorageError


def test_put_get_exists_size(blob_harness, tmp_path: Path) -> None:
    blobs = blob_harness.blobs
    source = tmp_path / "in.bin"
    source.write_bytes(b"\x00\x01video-bytes" * 100)
    assert not blobs.exists("outputs/j1/out.mp4")
    blobs.put_file("outputs/j1/out.mp4", source, content_type="video/mp4")
    assert blobs.exists("outputs/j1/out.mp4")
    assert blobs.size("outputs/j1/out.mp4") == source.stat().st_size
    dest = tmp_path / "deep" / "copy.bin"
    blobs.get_file("outputs/j1/out.mp4", dest)
    assert dest.read_bytes() == source.read_bytes()


def test_put_replaces_an_existing_object(blob_harness, tmp_path: Path) -> None:
    blobs = blob_harness.blobs
    (tmp_path / "a").write_bytes(b"first")
    (tmp_path / "b").write_bytes(b"second!")
    blobs.put_file("assets/x.mp3", tmp_path / "a")
    blobs.put_file("assets/x.mp3", tmp_path / "b")
    assert blobs.size("assets/x.mp3") == 7


def test_missing_object_is_a_storage_error(blob_harness, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"assets/nope\.mp3"):
        blob_harness.blobs.get_file("assets/nope.mp3", tmp_path / "x")
    with pytest.raises(StorageError):
        blob_harness.blobs.size("assets/nope.mp3")


@pytest.mark.parametrize("key", ["../escape.txt", "assets/../../escape.txt", "/etc/passwd", "assets//x", ""])
def test_keys_that_could_escape_are_refused(blob_harness, tmp_path: Path, key: str) -> None:
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(StorageError):
        blob_harness.blobs.put_file(key, tmp_path / "a")
    with pytest.raises(StorageError):
        blob_harness.blobs.get_file(key, tmp_path / "b")


def test_download_url_serves_the_object_until_it_expires(blob_harness, tmp_path: Path) -> None:
    blobs = blob_harness.blobs
    (tmp_path / "a").write_bytes(b"rendered video")
    blobs.put_file("outputs/j1/my video.mp4", tmp_path / "a")
    url, expires_at = blobs.download_url("outputs/j1/my video.mp4", expires_s=600)
    assert expires_at.tzinfo is not None
    now = datetime.now(UTC)
    assert now + timedelta(seconds=590) <= expires_at <= now + timedelta(seconds=610)
    assert blob_harness.fetch_url(url) == b"rendered video"


# --- optional capabilities: declared by the port, so a renamed method fails here --------------


def test_delete_removes_the_object(blob_harness, tmp_path: Path) -> None:
    blobs = blob_harness.blobs
    (tmp_path / "a").write_bytes(b"old output")
    blobs.put_file("outputs/j1/old.mp4", tmp_path / "a")
    blobs.delete("outputs/j1/old.mp4")
    assert not blobs.exists("outputs/j1/old.mp4")


def test_upload_urls_where_the_store_presigns_them(blob_harness) -> None:
    presigned = blob_harness.blobs.upload_url("assets/u1/music.mp3", expires_s=600, content_type="audio/mpeg")
    if not blob_harness.presigns_uploads:
        assert presigned is None  # uploads go through POST /assets
        return
    assert presigned is not None
    url, expires_at = presigned
    assert url.startswith("http") and expires_at > datetime.now(UTC) + timedelta(seconds=590)


def test_download_links_are_verified_where_the_api_serves_them(blob_harness, tmp_path: Path) -> None:
    blobs = blob_harness.blobs
    (tmp_path / "a").write_bytes(b"video")
    blobs.put_file("outputs/j1/v.mp4", tmp_path / "a")
    if not blob_harness.serves_downloads:
        assert blobs.verify_download("outputs/j1/v.mp4", "0", "x") is None  # S3 serves its own URLs
        return
    with pytest.raises(StorageError, match="bad signature"):
        blobs.verify_download("outputs/j1/v.mp4", "9999999999", "forged")
