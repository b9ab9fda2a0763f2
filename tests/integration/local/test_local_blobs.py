"""LocalBlobStore on real files: signed URLs, key confinement, atomic writes; secrets on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from autovid.adapters.local.local_blobs import LocalBlobStore
from autovid.adapters.local.signing import Signer, load_or_create_secret
from autovid.errors import StorageError
from tests.page_cache import cached_bytes


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    store = LocalBlobStore(
        tmp_path / "files", Signer(b"s" * 32), "http://h:1/", prefixes=("assets", "outputs")
    )
    (tmp_path / "src.bin").write_bytes(b"payload")
    store.put_file("outputs/j/out.mp4", tmp_path / "src.bin")
    return store


def _parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path.removeprefix("/files/")), query["expires"][0], query["signature"][0]


def test_a_signed_url_verifies_to_the_file(blobs: LocalBlobStore) -> None:
    url, _ = blobs.download_url("outputs/j/out.mp4", expires_s=60)
    assert url.startswith("http://h:1/files/outputs/j/out.mp4?expires=")
    assert blobs.verify_download(*_parts(url)).read_bytes() == b"payload"


def test_tampered_signature_expiry_or_key_is_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    (tmp_path / "other").write_bytes(b"secret")
    blobs.put_file("outputs/k/other.mp4", tmp_path / "other")
    key, expires, signature = _parts(blobs.download_url("outputs/j/out.mp4", expires_s=60)[0])
    with pytest.raises(StorageError, match="bad signature"):
        blobs.verify_download(key, expires, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    with pytest.raises(StorageError, match="bad signature"):
        blobs.verify_download(key, str(int(expires) + 3600), signature)
    with pytest.raises(StorageError, match="bad signature"):
        blobs.verify_download("outputs/k/other.mp4", expires, signature)
    with pytest.raises(StorageError, match="integer"):
        blobs.verify_download(key, "soon", signature)


def test_an_expired_url_is_refused(blobs: LocalBlobStore) -> None:
    now = [1_700_000_000.0]
    clocked = LocalBlobStore(blobs.root, Signer(b"s" * 32), "http://h:1", clock=lambda: now[0])
    url, expires_at = clocked.download_url("outputs/j/out.mp4", expires_s=60)
    assert expires_at.timestamp() == now[0] + 60
    now[0] += 60  # the last second of the link's life
    assert clocked.verify_download(*_parts(url)).read_bytes() == b"payload"
    now[0] += 1
    with pytest.raises(StorageError, match="expired"):
        clocked.verify_download(*_parts(url))


def test_a_url_signed_by_another_deployment_is_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    other = LocalBlobStore(blobs.root, Signer(b"t" * 32), "http://h:1")
    with pytest.raises(StorageError, match="bad signature"):
        blobs.verify_download(*_parts(other.download_url("outputs/j/out.mp4", expires_s=60)[0]))


def test_keys_stay_inside_the_root_and_the_managed_prefixes(blobs: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (blobs.root / "assets").mkdir()
    os.symlink(outside, blobs.root / "assets" / "link")
    with pytest.raises(StorageError, match="outside"):
        blobs.get_file("assets/link/secret.txt", tmp_path / "copy")
    for key in ("autovid.db", "secret.key", "cache/x", "assets/.hidden", "assets\\x"):
        with pytest.raises(StorageError):
            blobs.exists(key)


def test_writes_are_atomic_and_leave_no_temporary_files(blobs: LocalBlobStore, tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError):
        blobs.put_file("outputs/j/out.mp4", missing)
    assert blobs.path_for("outputs/j/out.mp4").read_bytes() == b"payload"  # the old file is intact
    assert sorted(p.name for p in blobs.path_for("outputs/j/out.mp4").parent.iterdir()) == ["out.mp4"]


def test_the_secret_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_secret(path)
    assert len(first) == 64 and load_or_create_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_fetched_file_is_a_snapshot_however_the_key_changes(blobs: LocalBlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "work" / "out.mp4"
    blobs.get_file("outputs/j/out.mp4", dest)
    assert dest.read_bytes() == b"payload"
    (tmp_path / "new.bin").write_bytes(b"replaced")
    blobs.put_file("outputs/j/out.mp4", tmp_path / "new.bin")
    assert dest.read_bytes() == b"payload", "a later put does not reach a fetched copy"
    blobs.get_file("outputs/j/out.mp4", dest)  # again, over the earlier one
    assert dest.read_bytes() == b"replaced"
    (tmp_path / "third.bin").write_bytes(b"third")
    blobs.put_file("outputs/j/out.mp4", tmp_path / "third.bin")
    assert dest.read_bytes() == b"replaced", "fetching again did not write into the stored file"


def test_a_stored_file_outlives_the_file_it_came_from(blobs: LocalBlobStore, tmp_path: Path) -> None:
    rendered = tmp_path / "work" / "render.mp4"
    rendered.parent.mkdir()
    rendered.write_bytes(b"rendered")
    blobs.put_file("outputs/j/out.mp4", rendered)
    rendered.unlink()  # the job's work folder is removed
    assert blobs.path_for("outputs/j/out.mp4").read_bytes() == b"rendered"


def test_a_stored_output_leaves_the_page_cache(blobs: LocalBlobStore, tmp_path: Path) -> None:
    rendered = tmp_path / "render.mp4"
    payload = os.urandom(4 * 1024 * 1024)
    rendered.write_bytes(payload)
    written = cached_bytes(rendered)
    if written is None:
        pytest.skip("the page cache cannot be inspected here (no fincore, or a tmpfs)")
    assert written > len(payload) // 2  # just written: in the cache
    blobs.put_file("outputs/j/out.mp4", rendered)
    stored = blobs.path_for("outputs/j/out.mp4")
    assert cached_bytes(stored) == 0  # flushed and freed for the next render's output
    assert stored.read_bytes() == payload
