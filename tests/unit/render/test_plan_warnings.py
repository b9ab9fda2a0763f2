"""What the plan cuts, drops or shortens is reported as warnings — checked with no media."""

from __future__ import annotations

from typing import Any

from autovid.render.plan import make_plan
from autovid.render.report import CLIP_CUT_AT_END, CROSSFADE_CLAMPED, EVENT_AFTER_END, SPEECH_CUT_AT_END

from .test_plan import DURATIONS, spec_with


def tts(start: float, text: str = "Hello.") -> dict[str, Any]:
    return {"start": start, "type": "tts", "data": {"text": text}}


def sound(start: float, asset: str = "fx") -> dict[str, Any]:
    return {"start": start, "type": "audio", "data": {"assetId": asset}}


def test_speech_cut_at_the_end_says_how_much_was_dropped() -> None:
    spec = spec_with(timeline=[tts(1.0), tts(25.3)])
    plan = make_plan(
        spec, video_duration_s=30.0, asset_durations_s=DURATIONS, speech_durations_s={0: 3.0, 1: 9.4}
    )
    (warning,) = plan.warnings
    assert warning.code == SPEECH_CUT_AT_END
    assert warning.message == (
        "timeline[1] (speech) runs past the video's end at 30.00 s: the last 4.70 s of its 9.40 s are cut"
    )


def test_a_clip_cut_at_the_end_names_its_asset() -> None:
    spec = spec_with(timeline=[sound(29.5, "b")])
    plan = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS)
    (warning,) = plan.warnings
    assert warning.code == CLIP_CUT_AT_END
    assert warning.message.startswith("timeline[0] (audio asset 'b') runs past the video's end at 30.00 s")
    assert "the last 5.50 s of its 6.00 s are cut" in warning.message


def test_events_after_the_end_are_reported_and_not_played() -> None:
    spec = spec_with(timeline=[sound(1.0), tts(30.0), sound(41.0, "c")])
    plan = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS, speech_durations_s={1: 2.0})
    assert [w.code for w in plan.warnings] == [EVENT_AFTER_END, EVENT_AFTER_END]
    assert plan.warnings[0].message == (
        "timeline[1] (speech) starts at 30.00 s, at or after the video's end at 30.00 s; it is not played"
    )
    assert plan.warnings[1].message.startswith("timeline[2] (audio asset 'c') starts at 41.00 s")
    assert len(plan.on_bus("events")) == 1


def test_a_clamped_crossfade_says_to_what() -> None:
    """'c' lasts 1 s: a 3 s crossfade into or out of it is clamped to half of it, 0.5 s."""
    spec = spec_with(music={"playlist": ["a", "c"], "loop": False, "crossfadeDuration": 3.0})
    plan = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS)
    (warning,) = plan.warnings
    assert warning.code == CROSSFADE_CLAMPED
    assert warning.message == (
        "backgroundMusic.crossfadeDuration (3 s) is longer than half a track: "
        "the crossfade from 'a' into 'c' is clamped to 0.50 s"
    )


def test_a_looped_track_warns_once_and_only_for_crossfades_inside_the_video() -> None:
    spec = spec_with(music={"playlist": ["b"], "crossfadeDuration": 4.0})
    looped = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS)
    (warning,) = looped.warnings
    assert "from 'b' into itself is clamped to 3.00 s" in warning.message
    short = make_plan(spec, video_duration_s=2.9, asset_durations_s=DURATIONS)  # ends before the fade
    assert short.warnings == ()


def test_a_plan_with_nothing_cut_has_no_warnings() -> None:
    spec = spec_with(
        music={"playlist": ["a", "b"], "crossfadeDuration": 2.0}, timeline=[tts(1.0), sound(27.0)]
    )
    plan = make_plan(spec, video_duration_s=30.0, asset_durations_s=DURATIONS, speech_durations_s={0: 3.0})
    assert plan.warnings == ()
