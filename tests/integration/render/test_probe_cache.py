"""What probing and scanning media found, kept across renders (``ProbeCache``): a hit is what a
fresh probe gives, a changed file misses, and a batch row rendered with every cache warm is the
row rendered alone, packet for packet."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from autovid.adapters.local.segment_cache import DiskSegmentCache
from autovid.errors import MediaError
from autovid.render.limits import RenderLimits
from autovid.render.media import (
    DecodedSources,
    ProbeCache,
    audio_packet_duration_s,
    audio_sample_count,
    probe,
    scan_video,
)
from autovid.render.pipeline import AssetSource, Reuse
from autovid.spec.models import AudioAsset, VideoAsset
from tests.integration.render.conftest import Media, Renderer
from tests.integration.render.test_segment_cache import packets, row_spec

T = TypeVar("T")


class CountingProbes(ProbeCache):
    """The real cache, counting the calls that had to read the file."""

    def __init__(self, max_entries: int = 256) -> None:
        super().__init__(max_entries)
        self.computed: list[Hashable] = []

    def get(self, path: Path, what: Hashable, compute: Callable[[Path], T]) -> T:
        def counted(p: Path) -> T:
            self.computed.append(what)
            return compute(p)

        return super().get(path, what, counted)


class CopyingAssets(AssetSource):
    """Copies each asset into the render's own folder, as the real fetcher does: every row has
    its own copy of the template's files, at its own path."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch_all(self, assets: Sequence[AudioAsset | VideoAsset], dest_dir: Path) -> dict[str, Path]:
        dest_dir.mkdir(parents=True, exist_ok=True)
        return {a.id: Path(shutil.copy(self.folder / a.source, dest_dir / a.source)) for a in assets}


def test_a_hit_is_what_a_fresh_probe_gives_for_a_copy_elsewhere(media: Media, tmp_path: Path) -> None:
    video = media.video("probed.mp4", duration_s=1.5)
    music = media.music("probed-bed.mp3", 1.0)
    probes = CountingProbes()
    for attempt in range(2):  # the second time every answer comes from the cache
        folder = tmp_path / f"row{attempt}"
        folder.mkdir()
        copy, bed = Path(shutil.copy(video, folder)), Path(shutil.copy(music, folder))
        assert probes.probe(copy) == probe(copy)  # its path is the copy's, not the first row's
        assert probes.scan_video(copy) == scan_video(copy)
        assert probes.audio_packet_duration_s(bed) == audio_packet_duration_s(bed)
        assert probes.audio_sample_count(bed) == audio_sample_count(bed)
        probes.check_limits(copy, RenderLimits())
    assert sorted(map(str, probes.computed)) == sorted(
        map(str, ["probe", "scan", "packet-duration", ("samples", 48_000), ("limits", RenderLimits())])
    ), "each answer read from the file once"


def test_a_changed_file_misses(media: Media, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    shutil.copy(media.video("short.mp4", duration_s=1.0), path)
    probes = CountingProbes()
    assert probes.scan_video(path).duration_s == scan_video(path).duration_s
    shutil.copy(media.video("longer.mp4", duration_s=2.0), path)  # the same path, new content
    assert probes.scan_video(path) == scan_video(path)
    assert abs(probes.scan_video(path).duration_s - 2.0) < 0.1
    assert probes.computed == ["scan", "scan"]


def test_a_hard_link_is_hashed_once_and_a_rewrite_with_the_same_size_misses(tmp_path: Path) -> None:
    """Batch rows hard-link the template's files: the same inode at another path is not hashed
    again. A file rewritten in place (same size, another modification time) is."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"a" * 4096)
    probes = CountingProbes()
    assert probes.get(path, "first byte", lambda p: p.read_bytes()[:1]) == b"a"
    row = tmp_path / "row1" / "data.bin"
    row.parent.mkdir()
    os.link(path, row)
    assert probes.get(row, "first byte", lambda p: p.read_bytes()[:1]) == b"a"
    assert len(probes._digests) == 1, "the link is the same file: its digest is not computed again"
    assert probes.computed == ["first byte"]
    status = path.stat()
    with path.open("r+b") as file:
        file.write(b"b")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == status.st_size
    assert probes.get(path, "first byte", lambda p: p.read_bytes()[:1]) == b"b"


def test_the_cache_keeps_at_most_its_bound_and_failures_not_at_all(tmp_path: Path) -> None:
    probes = CountingProbes(max_entries=3)
    files = []
    for index in range(5):
        files.append(tmp_path / f"f{index}")
        files[-1].write_bytes(bytes([index]) * 100)
        probes.get(files[-1], "size", lambda p: p.stat().st_size)
    assert len(probes._entries) == 3 and len(probes._digests) == 3
    probes.get(files[0], "size", lambda p: p.stat().st_size)  # the oldest went first
    assert len(probes.computed) == 6
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    for _ in range(2):
        with pytest.raises(MediaError):
            probes.probe(broken)
    assert probes.computed[-2:] == ["probe", "probe"], "a failed probe is not kept"
    with pytest.raises(MediaError):  # a file gone is the probe's own error, not the hashing's
        probes.probe(tmp_path / "gone.mp4")


def test_a_row_with_every_cache_warm_is_packet_identical_to_the_row_alone(
    media: Media, renderer: Renderer, tmp_path: Path
) -> None:
    spec = row_spec(media)
    renderer.assets = CopyingAssets(media.folder)
    renderer.speech.duration_s = 0.4
    first = renderer(spec)
    alone = tmp_path / "alone.mp4"
    first.output_path.replace(alone)
    probes = CountingProbes()
    reuse = Reuse(DiskSegmentCache(tmp_path / "segments", 64 * 1024**2), DecodedSources(), probes)
    renderer.speech.duration_s = 0.3  # another row, with a greeting of another length
    renderer(spec, reuse=reuse)
    computed = len(probes.computed)
    renderer.speech.duration_s = 0.4  # the first row again, every cache warm
    warm = renderer(spec, reuse=reuse)
    assert len(probes.computed) == computed + 1, "only the new greeting's length is measured"
    assert packets(warm.output_path) == packets(alone)
