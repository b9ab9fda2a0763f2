"""The plan is pure: these tests build specs and check what plays when, with no media at all."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from autovid.render.plan import SAMPLE_RATE, Clip, DuckRange, Source, make_plan, merge_ducks
from autovid.spec.validation import parse_spec

SR = SAMPLE_RATE


def spec_with(
    *, music: dict[str, Any] | None = None, timeline: list[dict[str, Any]] | None = None, volume: float = 0.0
) -> Any:
    raw: dict[str, Any] = {
        "assets": {
            "video": {"id": "video", "source": "v.mp4", "volume": volume},
            "audio": [{"id": name, "source": f"{name}.wav"} for name in ("a", "b", "c", "fx")],
        },
        "timeline": timeline or [],
        "output": {"filename": "out.mp4"},
    }
    if music is not None:
        raw["backgroundMusic"] = music
    return parse_spec(raw)


def duck_event(start: float, level: float, fade: float = 0.5, asset: str = "fx") -> dict[str, Any]:
    return {
        "start": start,
        "type": "audio",
        "data": {"assetId": asset, "volume": 1.0, "duckingLevel": level, "duckingFadeDuration": fade},
    }


DURATIONS = {"a": 10.0, "b": 6.0, "c": 1.0, "fx": 2.0}


def music_of(plan: Any) -> list[Clip]:
    return list(plan.on_bus("music"))


# --- music bed --------------------------------------------------------------------------------


def test_playlist_plays_in_order_with_equal_crossfades() -> None:
    spec = spec_with(music={"playlist": ["a", "b"], "loop": False, "crossfadeDuration": 2.0, "volume": 0.4})
    plan = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS)
    first, second = music_of(plan)
    assert (first.source, first.start, first.length) == (Source("asset", "a"), 0, 10 * SR)
    assert (first.fade_in, first.fade_out, first.fade_out_at) == (0, 2 * SR, 8 * SR)
    # the second track starts where the first begins to fade out, fading in over the same span
    assert (second.source, second.start, second.fade_in) == (Source("asset", "b"), 8 * SR, 2 * SR)
    assert second.fade_out == 0 and second.end == 14 * SR  # not looping: the bed stops here
    assert first.gain == second.gain == pytest.approx(0.4)


def test_crossfade_is_clamped_to_half_the_shorter_track() -> None:
    spec = spec_with(music={"playlist": ["a", "c"], "loop": False, "crossfadeDuration": 3.0})
    first, second = music_of(make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS))
    assert first.fade_out == second.fade_in == SR // 2  # c lasts 1 s
    assert second.start == 10 * SR - SR // 2


def test_single_looping_track_crossfades_into_itself_until_the_video_ends() -> None:
    spec = spec_with(music={"playlist": ["b"], "loop": True, "crossfadeDuration": 1.0})
    clips = music_of(make_plan(spec, video_duration_s=20.0, asset_durations_s=DURATIONS))
    assert [c.start for c in clips] == [0, 5 * SR, 10 * SR, 15 * SR]
    assert all(c.source == Source("asset", "b") for c in clips)
    assert [c.fade_in for c in clips] == [0, SR, SR, SR]
    assert all(c.fade_out == SR and c.fade_out_at == 5 * SR for c in clips)
    assert clips[-1].end == 20 * SR  # cut at the video's end, mid-track


def test_looping_playlist_repeats_in_order() -> None:
    spec = spec_with(music={"playlist": ["c", "b"], "loop": True, "crossfadeDuration": 0.0})
    clips = music_of(make_plan(spec, video_duration_s=15.0, asset_durations_s=DURATIONS))
    assert [c.source.name for c in clips] == ["c", "b", "c", "b", "c"]
    assert [c.start for c in clips] == [0, SR, 7 * SR, 8 * SR, 14 * SR]
    assert all(a.end == b.start for a, b in itertools.pairwise(clips))  # back to back, no gap


def test_music_is_cut_at_the_video_end() -> None:
    spec = spec_with(music={"playlist": ["a"], "loop": False})
    (clip,) = music_of(make_plan(spec, video_duration_s=4.0, asset_durations_s=DURATIONS))
    assert clip.length == 4 * SR


# --- events -----------------------------------------------------------------------------------


def test_events_start_sample_accurately_and_are_cut_at_the_end() -> None:
    timeline = [
        {"start": 1.2345, "type": "audio", "data": {"assetId": "fx", "volume": 0.7}},
        {"start": 9.0, "type": "audio", "data": {"assetId": "fx"}},
        {"start": 12.0, "type": "audio", "data": {"assetId": "fx"}},  # after the end: dropped
    ]
    plan = make_plan(spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s=DURATIONS)
    first, second = plan.on_bus("events")
    assert (first.start, first.length, first.gain) == (round(1.2345 * SR), 2 * SR, pytest.approx(0.7))
    assert (second.start, second.length, second.gain) == (9 * SR, SR, pytest.approx(0.5))


def test_speech_events_use_their_own_durations() -> None:
    timeline = [{"start": 1.0, "type": "tts", "data": {"text": "Hello there."}}]
    plan = make_plan(
        spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s={}, speech_durations_s={0: 2.5}
    )
    (clip,) = plan.clips
    assert clip.source == Source("speech", "0") and clip.length == round(2.5 * SR) and clip.gain == 1.0


def test_video_audio_is_kept_at_its_volume_and_never_ducked() -> None:
    spec = spec_with(volume=0.6, timeline=[duck_event(1.0, 0.2)])
    plan = make_plan(spec, video_duration_s=5.0, asset_durations_s=DURATIONS, video_audio_duration_s=5.0)
    (video,) = plan.on_bus("video")
    assert (video.start, video.length, video.gain) == (0, 5 * SR, pytest.approx(0.6))
    assert plan.ducks  # ducking exists, but only the music bus uses it


def test_video_audio_dropped_at_volume_zero_or_without_a_track() -> None:
    silent = make_plan(
        spec_with(volume=0.0), video_duration_s=5.0, asset_durations_s={}, video_audio_duration_s=5.0
    )
    trackless = make_plan(spec_with(volume=0.8), video_duration_s=5.0, asset_durations_s={})
    assert silent.clips == () and trackless.clips == ()


def test_video_audio_starting_late_or_early_is_aligned_to_the_picture() -> None:
    late = make_plan(
        spec_with(volume=1.0),
        video_duration_s=5.0,
        asset_durations_s={},
        video_audio_duration_s=5.0,
        video_audio_delay_s=0.5,
    )
    early = make_plan(
        spec_with(volume=1.0),
        video_duration_s=5.0,
        asset_durations_s={},
        video_audio_duration_s=5.0,
        video_audio_delay_s=-0.25,
    )
    assert (late.clips[0].start, late.clips[0].offset, late.clips[0].length) == (SR // 2, 0, 4 * SR + SR // 2)
    assert (early.clips[0].start, early.clips[0].offset) == (0, SR // 4)


# --- ducking ----------------------------------------------------------------------------------


def test_duck_ramps_end_at_the_event_start_and_begin_at_its_end() -> None:
    plan = make_plan(
        spec_with(timeline=[duck_event(3.0, 0.25, fade=0.5)]),
        video_duration_s=10.0,
        asset_durations_s=DURATIONS,
    )
    assert plan.duck_points() == (
        (int(2.5 * SR), 1.0),
        (3 * SR, 0.25),
        (5 * SR, 0.25),  # fx lasts 2 s
        (int(5.5 * SR), 1.0),
    )


def test_ramp_is_clipped_at_zero() -> None:
    plan = make_plan(
        spec_with(timeline=[duck_event(0.2, 0.3, fade=0.5)]),
        video_duration_s=10.0,
        asset_durations_s=DURATIONS,
    )
    (duck,) = plan.ducks
    assert duck.ramp_start == 0 and duck.level_start == int(0.2 * SR)
    gain = plan.duck_gain(0, int(0.2 * SR) + 1)
    assert gain is not None and gain[0] == pytest.approx(1.0) and gain[-1] == pytest.approx(0.3)


def test_event_at_zero_is_ducked_from_the_first_sample() -> None:
    plan = make_plan(
        spec_with(timeline=[duck_event(0.0, 0.3)]), video_duration_s=10.0, asset_durations_s=DURATIONS
    )
    gain = plan.duck_gain(0, 10)
    assert gain is not None and np.allclose(gain, 0.3)


def test_overlapping_ranges_merge_and_the_lowest_level_wins() -> None:
    timeline = [duck_event(2.0, 0.5), duck_event(3.0, 0.2)]  # fx: 2 s -> [2, 4] and [3, 5]
    plan = make_plan(spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s=DURATIONS)
    (duck,) = plan.ducks
    assert (duck.ramp_start, duck.level_start, duck.level_end, duck.ramp_end) == (
        int(1.5 * SR),
        2 * SR,
        5 * SR,
        int(5.5 * SR),
    )
    assert duck.level == pytest.approx(0.2)


def test_ranges_touching_through_their_ramps_merge() -> None:
    # first: [1, 3] ramps to 3.5; second starts 4.0 with a ramp from 3.5: they touch
    timeline = [duck_event(1.0, 0.4), duck_event(4.0, 0.6)]
    plan = make_plan(spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s=DURATIONS)
    (duck,) = plan.ducks
    assert (duck.level_start, duck.level_end, duck.level) == (SR, 6 * SR, pytest.approx(0.4))
    gain = plan.duck_gain(int(3.4 * SR), int(3.6 * SR))
    assert gain is not None and np.allclose(gain, 0.4)  # no bump back up between them


def test_separate_ranges_stay_separate() -> None:
    timeline = [duck_event(1.0, 0.4), duck_event(4.1, 0.6)]
    plan = make_plan(spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s=DURATIONS)
    assert [d.level for d in plan.ducks] == [pytest.approx(0.4), pytest.approx(0.6)]
    assert plan.duck_gain(int(3.55 * SR), int(3.55 * SR) + 5) is None  # between them: unducked


def test_merge_keeps_the_widest_ramps() -> None:
    long_fade = DuckRange(ramp_start=0, level_start=400, level_end=500, ramp_end=900, level=0.5)
    short_fade = DuckRange(ramp_start=450, level_start=460, level_end=700, ramp_end=710, level=0.7)
    (merged,) = merge_ducks([short_fade, long_fade])
    assert merged == DuckRange(ramp_start=0, level_start=400, level_end=700, ramp_end=900, level=0.5)


def test_duck_gain_is_linear_on_the_ramps() -> None:
    plan = make_plan(
        spec_with(timeline=[duck_event(2.0, 0.2, fade=1.0)]),
        video_duration_s=10.0,
        asset_durations_s=DURATIONS,
    )
    down = plan.duck_gain(SR, 2 * SR)
    up = plan.duck_gain(4 * SR, 5 * SR)
    assert down is not None and up is not None
    expected = 1.0 - 0.8 * np.arange(SR) / SR
    assert np.allclose(down, expected, atol=1e-6)
    assert np.allclose(up, expected[::-1] - 0.8 / SR, atol=1e-5)
    assert plan.duck_gain(0, SR) is None and plan.duck_gain(5 * SR, 6 * SR) is None


def test_event_without_ducking_level_does_not_duck() -> None:
    timeline = [{"start": 1.0, "type": "audio", "data": {"assetId": "fx"}}]
    plan = make_plan(spec_with(timeline=timeline), video_duration_s=10.0, asset_durations_s=DURATIONS)
    assert plan.ducks == ()


# --- envelopes --------------------------------------------------------------------------------


def test_crossfade_envelopes_keep_power_constant() -> None:
    out = Clip(Source("asset", "a"), "music", start=0, length=1000, gain=1.0, fade_out_at=600, fade_out=400)
    into = Clip(Source("asset", "b"), "music", start=600, length=1000, gain=1.0, fade_in=400)
    fading_out = np.asarray(out.envelope(600, 400))
    fading_in = np.asarray(into.envelope(0, 400))
    assert np.allclose(fading_out**2 + fading_in**2, 1.0, atol=1e-6)
    assert out.envelope(0, 600) == 1.0 and into.envelope(400, 600) == 1.0  # scalars outside fades


def test_an_envelope_is_the_same_in_any_blocks_and_follows_its_curve() -> None:
    clip = Clip(
        Source("asset", "a"),
        "music",
        start=0,
        length=5000,
        gain=0.3,
        fade_in=1500,
        fade_out_at=4000,
        fade_out=1000,
    )
    whole = np.asarray(clip.envelope(0, 5000))
    centres = np.arange(5000) + 0.5
    rising = np.sin(0.5 * np.pi * np.clip(centres / 1500, 0, 1))
    falling = np.cos(0.5 * np.pi * np.clip((centres - 4000) / 1000, 0, 1))
    assert np.allclose(whole, 0.3 * rising * falling, atol=1e-7)
    cuts = [0, 1, 999, 1499, 1500, 1501, 3000, 3999, 4000, 4001, 4999, 5000]
    blocks = [np.asarray(clip.envelope(a, b - a)) * np.ones(b - a) for a, b in itertools.pairwise(cuts)]
    assert np.array_equal(np.concatenate(blocks).astype(np.float32), whole)  # bit for bit


def test_sound_ends_leave_out_ends_while_the_music_is_still_ducked() -> None:
    timeline = [
        duck_event(1.0, 0.2, fade=0.5, asset="c"),  # 1 - 2 s, the music back at 2.5 s
        {"start": 1.5, "type": "audio", "data": {"assetId": "c", "volume": 1.0}},  # ends at 2.5 s
        {"start": 1.2, "type": "audio", "data": {"assetId": "c", "volume": 1.0}},  # ends ducked, at 2.2 s
        {"start": 5.0, "type": "audio", "data": {"assetId": "fx", "volume": 1.0}},  # 5 - 7 s
    ]
    plan = make_plan(
        spec_with(music={"playlist": ["a"]}, timeline=timeline),
        video_duration_s=10.0,
        asset_durations_s=DURATIONS,
    )
    assert [duck.ramp_end for duck in plan.ducks] == [round(2.5 * SR)]
    assert plan.sound_ends() == (round(2.5 * SR), 7 * SR)
