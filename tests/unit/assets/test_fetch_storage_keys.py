"""Service mode: path sources are keys in the managed storage, read through the BlobStore port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autovid.assets import AssetFetcher, FetchPolicy, ManagedStorage
from autovid.errors import AssetError, TransientAssetError
from autovid.spec.models import AudioAsset

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from conftest import FolderBlobStore

DATA = os.urandom(3000)


def service_fetcher(store: FolderBlobStore, settings: dict[str, object], **overrides: object) -> AssetFetcher:
    return AssetFetcher(ManagedStorage(store), FetchPolicy(**{**settings, **overrides}))  # type: ignore[arg-type]


def test_asset_key_is_read_from_storage(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    blob_store.put_bytes("assets/u1/intro.mp3", DATA)
    blob_store.put_bytes("outputs/job1/final.mp4", b"previous render")
    assets = [
        AudioAsset(id="intro", source="assets/u1/intro.mp3"),
        AudioAsset(id="old", source="outputs/job1/final.mp4"),
    ]

    paths = service_fetcher(blob_store, fetch_settings).fetch_all(assets, dest)

    assert paths["intro"].read_bytes() == DATA
    assert (paths["intro"].suffix, paths["old"].suffix) == (".mp3", ".mp4")


@pytest.mark.parametrize(
    "source",
    [
        "/etc/passwd",
        "../etc/passwd",
        "assets/../../etc/passwd",
        "assets/./x.mp3",
        "assets//x.mp3",
        "assets\\x.mp3",
        "uploads/x.mp3",
        "x.mp3",
        "assets",
        "assets/",
        "assets/x\x00.mp3",
        "assets/x\n.mp3",
    ],
)
def test_keys_outside_the_managed_storage_are_refused_before_any_read(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object], source: str
) -> None:
    blob_store.put_bytes("assets/good.mp3", DATA)
    assets = [AudioAsset(id="good", source="assets/good.mp3"), AudioAsset(id="bad", source=source)]

    with pytest.raises(AssetError) as caught:
        service_fetcher(blob_store, fetch_settings).fetch_all(assets, dest)

    assert caught.value.asset_id == "bad"
    assert "assets/" in caught.value.reason  # says what is allowed
    assert blob_store.get_calls == []  # refused up front: nothing was read


def test_missing_key_is_permanent(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    with pytest.raises(AssetError) as caught:
        service_fetcher(blob_store, fetch_settings).fetch_all(
            [AudioAsset(id="m", source="assets/nope.mp3")], dest
        )

    assert "'assets/nope.mp3' is not available in the managed storage" in caught.value.reason


def test_oversize_object_is_refused_without_reading_it(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    blob_store.put_bytes("assets/big.wav", DATA)

    with pytest.raises(AssetError) as caught:
        service_fetcher(blob_store, fetch_settings, max_bytes=1000).fetch_all(
            [AudioAsset(id="big", source="assets/big.wav")], dest
        )

    assert "too large: 3000 bytes" in caught.value.reason
    assert blob_store.get_calls == []


def test_transient_storage_failure_is_retried(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    blob_store.put_bytes("assets/a.mp3", DATA)
    blob_store.flaky_reads = 2

    paths = service_fetcher(blob_store, fetch_settings, retries=2).fetch_all(
        [AudioAsset(id="a", source="assets/a.mp3")], dest
    )

    assert paths["a"].read_bytes() == DATA
    assert len(blob_store.get_calls) == 3
    assert sorted(p.name for p in dest.iterdir()) == [paths["a"].name]


def test_persistent_storage_failure_is_transient_and_leaves_no_partial_file(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    blob_store.put_bytes("assets/a.mp3", DATA)
    blob_store.flaky_reads = 10

    with pytest.raises(TransientAssetError) as caught:
        service_fetcher(blob_store, fetch_settings, retries=1).fetch_all(
            [AudioAsset(id="a", source="assets/a.mp3")], dest
        )

    assert "storage busy" in caught.value.reason and "2 attempts" in caught.value.reason
    assert len(blob_store.get_calls) == 2
    assert list(dest.iterdir()) == []


def test_https_and_s3_sources_still_work_in_service_mode_checks(
    blob_store: FolderBlobStore, dest: Path, fetch_settings: dict[str, object]
) -> None:
    # The service refuses bad URL schemes the same way as the CLI.
    with pytest.raises(AssetError) as caught:
        service_fetcher(blob_store, fetch_settings).fetch_all(
            [AudioAsset(id="x", source="file:///etc/passwd")], dest
        )

    assert "scheme 'file:' is not supported" in caught.value.reason
