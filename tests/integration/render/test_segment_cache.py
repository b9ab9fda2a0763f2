"""Reuse of encoded AAC segments across renders: a row rendered with a warm cache is the same
file, packet for packet, as the row rendered alone; whatever changes a segment's samples or its
encoder misses; the cache stays within its bound."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from autovid import samples
from autovid.adapters.local.segment_cache import DiskSegmentCache
from autovid.render.aac import FRAME_SAMPLES, write_aac_track
from autovid.render.loudness import StretchedLoudness
from autovid.render.media import AudioReader, DecodedAudio, DecodedSources
from autovid.render.pipeline import Reuse
from tests.integration.render.conftest import Media, Renderer, audio_event, make_spec, tts_event

_decoded: dict[int, DecodedSources] = {}
# segments of 1.02, 2.05, 1.92, 0.47 (to just after the effect's end) and 0.55 s: the greeting
# touches the first only
VIDEO_S = 6.0


class CountingCache(DiskSegmentCache):
    """The real disk cache, counting what it is asked: a hit is a lookup that finds its key, a
    miss one that does not while the key is claimed (the look before the claim is not counted:
    a segment that misses is looked up again under its claim, then encoded)."""

    def __init__(self, directory: Path, max_bytes: int = 64 * 1024**2) -> None:
        super().__init__(directory, max_bytes)
        self.hits = self.misses = 0
        self.stored: Counter[str] = Counter()
        self._claimed = threading.local()

    @contextmanager
    def claim(self, key: str) -> Iterator[None]:
        with super().claim(key):
            self._claimed.key = key
            try:
                yield
            finally:
                self._claimed.key = None

    def put(self, key: str, data: bytes) -> None:
        self.stored[key] += 1
        super().put(key, data)

    def get(self, key: str) -> bytes | None:
        data = super().get(key)
        if data is not None:
            self.hits += 1
        elif getattr(self._claimed, "key", None) == key:
            self.misses += 1
        return data


def packets(path: Path) -> list[tuple[str, int | None, int | None, int, bytes]]:
    with av.open(str(path)) as container:
        return [(p.stream.type, p.pts, p.dts, p.duration or 0, bytes(p)) for p in container.demux() if p.size]


def row_spec(
    media: Media,
    *,
    effect_volume: float = 0.8,
    fade_s: float = 0.1,
    bitrate: str | None = None,
    music: str = "bed.mp3",
    video_bitrate: str | None = None,
) -> Any:
    media.video("row.mp4", duration_s=VIDEO_S)
    media.music("bed.mp3", 2.5)
    media.effect("hit.wav", "impact")
    encoding = {"audio_bitrate": bitrate} if bitrate else {}
    if video_bitrate:
        encoding["bitrate"] = video_bitrate
    return make_spec(
        "row.mp4",
        audio={"bed": music, "hit": "hit.wav"},
        music={"playlist": ["bed"], "loop": True, "volume": 0.4, "crossfadeDuration": 0.5},
        timeline=[
            tts_event(0.2, "Hi there", duckingLevel=0.3, duckingFadeDuration=fade_s),
            audio_event(4.0, "hit", effect_volume),
        ],
        encoding=encoding,
    )


def rendered(renderer: Renderer, spec: Any, cache: DiskSegmentCache | None, name: str) -> Path:
    """The output of ``spec`` rendered with ``cache`` and a decoded-source cache of its own
    (reused by the renders of a test through the same ``cache``), or with no reuse at all."""
    reuse = Reuse(segments=cache, decoded=_decoded.setdefault(id(cache), DecodedSources())) if cache else None
    result = renderer(spec, reuse=reuse)
    kept = renderer.tmp_path / name
    result.output_path.replace(kept)
    return kept


def test_a_row_with_a_warm_cache_is_packet_identical_to_the_row_alone(
    media: Media, renderer: Renderer, tmp_path: Path
) -> None:
    spec = row_spec(media)
    renderer.speech.duration_s = 0.4  # the row's greeting: 0.2 - 0.6 s, in the first segment
    alone = rendered(renderer, spec, None, "alone.mp4")
    cache = CountingCache(tmp_path / "cache")
    renderer.speech.duration_s = 0.3  # another row: a greeting of another length
    rendered(renderer, spec, cache, "other-row.mp4")
    assert cache.hits == 0 and cache.misses == 5
    renderer.speech.duration_s = 0.4  # back to the first row, with the other row's segments cached
    warm = rendered(renderer, spec, cache, "warm.mp4")
    assert cache.hits == 4, "only the segment the greeting touches is encoded again"
    assert packets(warm) == packets(alone)
    again = rendered(renderer, spec, cache, "again.mp4")
    assert cache.hits == 4 + 5
    assert packets(again) == packets(alone)


def test_the_output_does_not_depend_on_how_many_encoders_run(media: Media, renderer: Renderer) -> None:
    spec = row_spec(media)
    outputs = []
    for threads in (1, 3):
        result = renderer(spec, encoder_threads=threads)
        outputs.append(result.output_path.replace(renderer.tmp_path / f"threads-{threads}.mp4"))
    assert packets(outputs[0]) == packets(outputs[1])


def test_rows_whose_greetings_end_close_together_share_what_follows(
    media: Media, renderer: Renderer, tmp_path: Path
) -> None:
    """A segment starts just after the music is back from a greeting's ducking, on a ~0.34 s
    grid: rows whose greetings end in the same step of it encode only the segment holding the
    greeting (3.07 - 4.78 s here), not the 4 s of music that follow up to the next scheduled start."""
    media.video("long.mp4", duration_s=10.0)
    media.music("bed.mp3", 2.5)
    spec = make_spec(
        "long.mp4",
        audio={"bed": "bed.mp3"},
        music={"playlist": ["bed"], "loop": True, "volume": 0.4, "crossfadeDuration": 0.5},
        timeline=[tts_event(3.4, "Hi there", duckingLevel=0.3, duckingFadeDuration=0.1)],
    )
    cache = CountingCache(tmp_path / "cache")
    renderer.speech.duration_s = 0.8
    rendered(renderer, spec, cache, "first-row.mp4")
    assert cache.misses == 6  # 1.02, 2.05, 1.71 (to 4.78 s), 2.15, 2.05, 1.02 s
    cache.hits = cache.misses = 0
    renderer.speech.duration_s = 0.85
    warm = rendered(renderer, spec, cache, "second-row.mp4")
    assert (cache.misses, cache.hits) == (1, 5)
    assert packets(warm) == packets(rendered(renderer, spec, None, "second-row-alone.mp4"))


def test_rows_rendered_at_once_encode_what_they_share_once(media: Media, tmp_path: Path) -> None:
    """Two rows rendered side by side (a service's two workers on a batch's first rows): a
    segment one of them is encoding is awaited by the other, not encoded twice."""
    spec = row_spec(media)
    rows = [Renderer(media, tmp_path / name) for name in ("a", "b")]
    for row, greeting_s in zip(rows, (0.4, 0.3), strict=True):
        row.tmp_path.mkdir()
        row.speech.duration_s = greeting_s
    alone = [rendered(row, spec, None, "alone.mp4") for row in rows]
    caches = [CountingCache(tmp_path / "cache") for _ in rows]  # one folder, as the workers share it
    start = threading.Barrier(len(rows))
    outputs: dict[int, Path] = {}

    def render_row(index: int) -> None:
        start.wait()
        outputs[index] = rendered(rows[index], spec, caches[index], "warm.mp4")

    threads = [threading.Thread(target=render_row, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = caches[0].stored + caches[1].stored
    assert sum(stored.values()) == 4 + 1 + 1, "the 4 shared segments once, each row's greeting once"
    assert set(stored.values()) == {1}
    assert [packets(outputs[i]) for i in range(len(rows))] == [packets(path) for path in alone]
    assert not list((tmp_path / "cache").glob("*.lock"))


def test_a_claimed_segment_waits_for_its_holder(tmp_path: Path) -> None:
    cache = DiskSegmentCache(tmp_path / "cache", max_bytes=1 << 20)
    key = "ab" * 20
    held, entered = threading.Event(), threading.Event()
    release = threading.Event()

    def holder() -> None:
        with cache.claim(key):
            held.set()
            release.wait(10)
            cache.put(key, b"encoded")

    def waiter() -> None:
        held.wait(10)
        with cache.claim(key):
            entered.set()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    assert held.wait(10)
    assert not entered.wait(0.3), "a second claim on the key waits while the first is held"
    release.set()
    assert entered.wait(10)
    for thread in threads:
        thread.join()
    assert cache.get(key) == b"encoded"
    assert not list((tmp_path / "cache").glob("*.lock"))


def test_a_cached_segment_brings_its_true_peak_and_loudness(
    media: Media, renderer: Renderer, tmp_path: Path
) -> None:
    """The report's true peak is of the AAC as decoded, its loudness of the mix per segment; a
    segment taken from the cache is neither decoded nor measured again, so its peak and its
    energies come with it: the warm render reports what a fresh one does."""
    spec = row_spec(media)
    renderer.speech.duration_s = 0.4
    fresh = renderer(spec).audio
    cache = CountingCache(tmp_path / "cache")
    cold = renderer(spec, reuse=Reuse(segments=cache)).audio
    warm = renderer(spec, reuse=Reuse(segments=cache)).audio
    assert cache.hits == 5
    assert fresh.true_peak_dbtp is not None and fresh.true_peak_dbtp > -30
    assert fresh.integrated_lufs is not None and fresh.loudness_range is not None
    assert warm == cold == fresh  # true peak, integrated loudness and loudness range alike


@pytest.mark.parametrize(
    ("change", "all_miss"),
    [
        ({"effect_volume": 0.5}, False),  # a gain: the effect's segment (4.0 s) misses
        ({"fade_s": 0.3}, False),  # a ducking ramp: the greeting's segment misses
        ({"bitrate": "128k"}, True),  # the encoder's settings: every segment misses
        ({"music": "bed-other.mp3"}, True),  # the music file's bytes
    ],
)
def test_a_change_that_reaches_a_segment_misses(
    media: Media, renderer: Renderer, tmp_path: Path, change: dict[str, Any], all_miss: bool
) -> None:
    media.get("bed-other.mp3", lambda p: samples.make_music_loop(p, 2.5, seed=7))
    cache = CountingCache(tmp_path / "cache")
    renderer.speech.duration_s = 0.4
    rendered(renderer, row_spec(media), cache, "base.mp4")
    cache.hits = cache.misses = 0
    changed = row_spec(media, **change)
    warm = rendered(renderer, changed, cache, "changed-warm.mp4")
    assert cache.misses == 5 if all_miss else 1 <= cache.misses < 5
    alone = rendered(renderer, changed, None, "changed-alone.mp4")
    assert packets(warm) == packets(alone)


def test_the_cache_stays_within_its_bound_over_200_rows(tmp_path: Path) -> None:
    """200 short rows, each its own tone then a part all rows share: the first segment differs
    in every row, the second (whose pre-roll lies in the shared part) is the same in all."""
    bound = 12_000  # a few rows' worth: entries are evicted all along
    cache = CountingCache(tmp_path / "cache", max_bytes=bound)
    t = np.arange(12 * FRAME_SAMPLES) / 48_000
    shared = np.stack([np.sin(2 * np.pi * 330 * t)] * 2).astype(np.float32) * 0.2
    for row in range(200):
        own = np.stack([np.sin(2 * np.pi * (200 + row) * t[: 4 * FRAME_SAMPLES])] * 2).astype(np.float32)
        write_aac_track(
            [own, shared],
            tmp_path / "row.m4a",
            sample_rate=48_000,
            segment_samples=12 * FRAME_SAMPLES,
            cache=cache,
            workers=1,
        )
        assert cache.size_bytes() <= bound, f"row {row}"
    assert cache.hits == 199, "the rows' shared segment was reused"


def test_the_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    cache = DiskSegmentCache(tmp_path / "cache", max_bytes=3000)
    for age_s, name in ((300, "a"), (200, "b"), (100, "c")):  # written in this order, long ago
        cache.put(name * 8, name.encode() * 1000)
        stamp = time.time() - age_s
        os.utime(cache.directory / f"{name * 8}.seg", (stamp, stamp))
    assert cache.get("aaaaaaaa") is not None  # used: now the most recent
    cache.put("dddddddd", b"d" * 1000)
    assert cache.get("bbbbbbbb") is None
    assert all(cache.get(k) is not None for k in ("aaaaaaaa", "cccccccc", "dddddddd"))
    assert cache.size_bytes() <= 3000


def test_decoded_sources_serve_the_samples_a_fresh_decode_gives(media: Media, tmp_path: Path) -> None:
    music = tmp_path / "bed.mp3"
    music.write_bytes(media.music("bed.mp3", 2.5).read_bytes())
    with AudioReader(music) as reader:
        fresh = reader.read(3 * 48_000)
    kept = DecodedSources()

    def played(count: int) -> np.ndarray:
        audio = DecodedAudio(music, plays=1, expected_samples=0, sample_rate=48_000, kept=(kept, "bed"))
        play = audio.reader()
        out = play.read(count)
        play.close()
        return out

    assert np.array_equal(played(48_000), fresh[:, :48_000])  # the first second, now kept
    assert np.array_equal(played(3 * 48_000), fresh)  # the kept second, then decoded past it
    music.rename(tmp_path / "gone.mp3")
    assert np.array_equal(played(3 * 48_000), fresh), "read from memory: the file is not opened"


def test_the_re_encoding_path_reuses_segments_too(media: Media, renderer: Renderer, tmp_path: Path) -> None:
    spec = row_spec(media, video_bitrate="500k")  # the video is encoded: the AAC goes to an .m4a
    renderer.speech.duration_s = 0.4
    alone = rendered(renderer, spec, None, "alone.mp4")
    cache = CountingCache(tmp_path / "cache")
    rendered(renderer, spec, cache, "cold.mp4")
    warm = rendered(renderer, spec, cache, "warm.mp4")
    assert cache.hits == 5
    assert [p for p in packets(warm) if p[0] == "audio"] == [p for p in packets(alone) if p[0] == "audio"]


def test_a_hit_elsewhere_on_the_5_ms_grid_measures_its_stretch_again(tmp_path: Path) -> None:
    """The same mix a dither period (65,536 samples) later: its segments hit the cache (the same
    dithered samples) but sit 16 samples further along the 5 ms grid, so their stored energies do
    not apply; the figures are those of the shifted mix rendered with no cache."""
    music = np.tile(samples.music_loop(2.5, seed=6), (1, 3))
    shifted = np.concatenate([np.zeros((2, 1 << 16), np.float32), music], axis=1)
    cache = CountingCache(tmp_path / "cache")

    def measured(signal: np.ndarray, store: DiskSegmentCache | None, name: str) -> Any:
        loudness = StretchedLoudness(48_000)
        blocks = (signal[:, i : i + 32_768] for i in range(0, signal.shape[1], 32_768))
        write_aac_track(
            blocks,
            tmp_path / name,
            sample_rate=48_000,
            segment_samples=1 << 16,
            loudness=loudness,
            cache=store,
        )
        return loudness.result()

    measured(music, cache, "a.m4a")
    cache.hits = 0
    warm = measured(shifted, cache, "b.m4a")
    assert cache.hits >= 2
    assert warm == measured(shifted, None, "c.m4a")
    assert warm.integrated_lufs is not None
