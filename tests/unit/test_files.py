"""``atomic_write``: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.files import atomic_write, write_bytes_atomically


def test_the_target_appears_only_when_the_writer_is_done(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.mp4"
    with atomic_write(target) as temp:
        temp.write_bytes(b"half")
        assert not target.exists() and temp.parent == target.parent and temp.name.endswith(".part")
        temp.write_bytes(b"whole file")
    assert target.read_bytes() == b"whole file"
    assert [p.name for p in target.parent.iterdir()] == ["out.mp4"]


def test_a_failed_write_leaves_the_old_file_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "speech.wav"
    write_bytes_atomically(target, b"old", fsync=True)
    with pytest.raises(OSError), atomic_write(target) as temp:
        temp.write_bytes(b"new but broken")
        raise OSError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["speech.wav"]
