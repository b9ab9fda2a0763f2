"""CLI mode: path sources relative to the spec file's folder, confined to the allowed roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autovid.assets import AssetFetcher, FetchPolicy, LocalFiles
from autovid.errors import AssetError, ConfigError
from autovid.spec.models import AudioAsset, VideoAsset

MUSIC = os.urandom(5000)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp/project (the spec's folder) with media/, and a secret file beside the project."""
    root = tmp_path / "project"
    (root / "media").mkdir(parents=True)
    (root / "media" / "music.mp3").write_bytes(MUSIC)
    (root / "media" / "clip.MOV").write_bytes(b"video bytes")
    (tmp_path / "secret.txt").write_text("do not read")
    return root


def cli_fetcher(
    base_dir: Path,
    settings: dict[str, object],
    *,
    allowed_roots: list[Path] | None = None,
    **overrides: object,
) -> AssetFetcher:
    policy = FetchPolicy(**{**settings, **overrides})  # type: ignore[arg-type]
    return AssetFetcher(LocalFiles(base_dir=base_dir, allowed_roots=allowed_roots), policy)


def refused(fetcher: AssetFetcher, source: str, dest: Path) -> AssetError:
    with pytest.raises(AssetError) as caught:
        fetcher.fetch_all([AudioAsset(id="a1", source=source)], dest)
    assert caught.value.asset_id == "a1"
    assert not dest.exists() or list(dest.iterdir()) == []
    return caught.value


def test_relative_path_is_copied_with_its_extension(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    assets = [AudioAsset(id="music", source="media/music.mp3"), VideoAsset(id="v", source="./media/clip.MOV")]

    paths = cli_fetcher(project, fetch_settings).fetch_all(assets, dest)

    assert paths["music"].read_bytes() == MUSIC
    assert (paths["music"].suffix, paths["v"].suffix) == (".mp3", ".mov")
    assert paths["music"].parent == dest
    assert (project / "media" / "music.mp3").read_bytes() == MUSIC  # the source is untouched


def test_absolute_path_inside_the_root_is_allowed(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    source = str(project / "media" / "music.mp3")

    paths = cli_fetcher(project, fetch_settings).fetch_all([AudioAsset(id="m", source=source)], dest)

    assert paths["m"].read_bytes() == MUSIC


def test_path_traversal_is_refused(project: Path, dest: Path, fetch_settings: dict[str, object]) -> None:
    error = refused(cli_fetcher(project, fetch_settings), "../../../../../../etc/passwd", dest)

    assert "outside the allowed folders" in error.reason
    assert str(project) in error.reason


def test_dot_dot_that_stays_inside_is_fine(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    paths = cli_fetcher(project, fetch_settings).fetch_all(
        [AudioAsset(id="m", source="media/../media/music.mp3")], dest
    )

    assert paths["m"].read_bytes() == MUSIC


def test_absolute_path_outside_the_roots_is_refused(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    error = refused(cli_fetcher(project, fetch_settings), str(project.parent / "secret.txt"), dest)

    assert "outside the allowed folders" in error.reason


def test_symlink_escaping_the_root_is_refused(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    (project / "media" / "innocent.mp3").symlink_to(project.parent / "secret.txt")

    error = refused(cli_fetcher(project, fetch_settings), "media/innocent.mp3", dest)

    assert "through a symbolic link" in error.reason


def test_symlinked_folder_escaping_the_root_is_refused(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    (project / "linked").symlink_to(project.parent, target_is_directory=True)

    error = refused(cli_fetcher(project, fetch_settings), "linked/secret.txt", dest)

    assert "outside the allowed folders" in error.reason


def test_symlink_within_the_root_is_followed(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    (project / "alias.mp3").symlink_to(project / "media" / "music.mp3")

    paths = cli_fetcher(project, fetch_settings).fetch_all([AudioAsset(id="m", source="alias.mp3")], dest)

    assert paths["m"].read_bytes() == MUSIC
    assert not paths["m"].is_symlink()


def test_extra_allowed_root(
    project: Path, tmp_path: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "bed.wav").write_bytes(b"RIFF....")
    fetcher = cli_fetcher(project, fetch_settings, allowed_roots=[project, library])

    paths = fetcher.fetch_all([AudioAsset(id="bed", source=str(library / "bed.wav"))], dest)

    assert paths["bed"].read_bytes() == b"RIFF...."
    assert "outside" in refused(fetcher, str(tmp_path / "secret.txt"), tmp_path / "other").reason


def test_missing_file_is_named(project: Path, dest: Path, fetch_settings: dict[str, object]) -> None:
    error = refused(cli_fetcher(project, fetch_settings), "media/nope.mp3", dest)

    assert "file not found: 'media/nope.mp3'" in error.reason


def test_a_folder_is_not_a_file(project: Path, dest: Path, fetch_settings: dict[str, object]) -> None:
    assert "not a regular file" in refused(cli_fetcher(project, fetch_settings), "media", dest).reason


def test_oversize_file_is_refused_and_nothing_remains(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    error = refused(cli_fetcher(project, fetch_settings, max_bytes=1000), "media/music.mp3", dest)

    assert "too large: 5000 bytes, the limit is 1000 bytes" in error.reason


def test_relative_path_without_a_base_folder_is_refused(
    dest: Path, fetch_settings: dict[str, object]
) -> None:
    fetcher = AssetFetcher(LocalFiles(), FetchPolicy(**fetch_settings))  # type: ignore[arg-type]

    assert "needs a base folder" in refused(fetcher, "media/music.mp3", dest).reason


def test_one_missing_file_fails_the_whole_set(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    assets = [AudioAsset(id="good", source="media/music.mp3"), AudioAsset(id="bad", source="media/nope.mp3")]

    with pytest.raises(AssetError) as caught:
        cli_fetcher(project, fetch_settings).fetch_all(assets, dest)

    assert caught.value.asset_id == "bad"
    assert list(dest.iterdir()) == []


def test_shared_source_is_copied_once(project: Path, dest: Path, fetch_settings: dict[str, object]) -> None:
    assets = [AudioAsset(id="a", source="media/music.mp3"), AudioAsset(id="b", source="media/music.mp3")]

    paths = cli_fetcher(project, fetch_settings).fetch_all(assets, dest)

    assert paths["a"] == paths["b"]
    assert len(list(dest.iterdir())) == 1


def test_no_assets_means_nothing_to_do(project: Path, dest: Path, fetch_settings: dict[str, object]) -> None:
    assert cli_fetcher(project, fetch_settings).fetch_all([], dest) == {}


def test_a_policy_without_room_for_a_byte_is_refused(fetch_settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FetchPolicy(**{**fetch_settings, "max_bytes": 0})  # type: ignore[arg-type]


def test_a_local_file_on_the_same_file_system_is_linked_not_copied(
    project: Path, dest: Path, fetch_settings: dict[str, object]
) -> None:
    source = project / "media" / "music.mp3"
    paths = cli_fetcher(project, fetch_settings).fetch_all(
        [AudioAsset(id="m", source="media/music.mp3")], dest
    )
    assert os.stat(paths["m"]).st_ino == os.stat(source).st_ino  # no bytes copied
    paths["m"].unlink()  # cleaning the work folder leaves the user's file alone
    assert source.read_bytes() == MUSIC
