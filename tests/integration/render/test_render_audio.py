"""Rendered audio, decoded from the output MP4 and measured: onsets, ducking, crossfades, loops,
the limiter, the video's own audio and speech."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.integration.render.conftest import (
    SR,
    FakeSynthesizer,
    Media,
    Renderer,
    audio_event,
    decode_audio,
    make_spec,
    onset_s,
    rms_db,
    span,
    true_peak_db,
    tts_event,
    window_levels_db,
)

ONSET_TOLERANCE_S = 0.010


@pytest.fixture
def silent_video(media: Media) -> str:
    return media.video("silent_3s.mp4", duration_s=3.0).name


def test_effect_onsets_land_within_10_ms_of_their_start(
    renderer: Renderer, media: Media, silent_video: str
) -> None:
    media.effect("blip.wav", "blip")
    media.effect("click.mp3", "click")
    spec = make_spec(
        silent_video,
        audio={"blip": "blip.wav", "click": "click.mp3"},
        timeline=[audio_event(0.7, "blip"), audio_event(1.337, "click"), audio_event(2.5, "blip", 0.5)],
    )
    out = decode_audio(renderer(spec).output_path)
    assert abs(onset_s(out, 0.5, 1.0) - 0.7) <= ONSET_TOLERANCE_S
    assert abs(onset_s(out, 1.2, 1.6) - 1.337) <= ONSET_TOLERANCE_S
    assert abs(onset_s(out, 2.3, 2.9) - 2.5) <= ONSET_TOLERANCE_S
    assert rms_db(span(out, 0.0, 0.6)) < -70  # silence before the first event


def test_music_is_ducked_to_the_level_by_the_event_start(
    media: Media, silent_video: str, renderer: Renderer
) -> None:
    media.tone("tone400_4s.wav", 4.0, freq_hz=400.0, amplitude=0.5)
    renderer.speech = FakeSynthesizer(renderer.tmp_path, kind="silence", duration_s=0.8)
    spec = make_spec(
        silent_video,
        audio={"music": "tone400_4s.wav"},
        music={"playlist": ["music"], "volume": 0.5, "loop": False},
        timeline=[tts_event(1.5, "Quiet please.", duckingLevel=0.25, duckingFadeDuration=0.3)],
    )
    out = decode_audio(renderer(spec).output_path)
    unducked = rms_db(span(out, 0.2, 1.1))
    expected_db = 20 * math.log10(0.25)
    assert unducked == pytest.approx(rms_db(np.full((2, 10), 0.25 / math.sqrt(2))), abs=0.5)  # 0.5 x 0.5 sine
    assert rms_db(span(out, 1.6, 2.2)) - unducked == pytest.approx(expected_db, abs=0.5)
    assert rms_db(span(out, 1.5, 1.55)) - unducked == pytest.approx(
        expected_db, abs=0.5
    )  # reached by the start
    mid_ramp = rms_db(span(out, 1.34, 1.36)) - unducked  # halfway down the ramp: gain ~0.625
    assert 20 * math.log10(0.625) - 1.0 < mid_ramp < 20 * math.log10(0.625) + 1.0
    assert rms_db(span(out, 2.65, 2.95)) - unducked == pytest.approx(0.0, abs=0.5)  # back up after 2.3 + 0.3


def test_crossfade_seam_has_no_gap_or_dip(media: Media, silent_video: str, renderer: Renderer) -> None:
    media.noise("noise_a.wav", 1.5, amplitude=0.5, seed=1)
    media.noise("noise_b.wav", 1.5, amplitude=0.5, seed=2)
    spec = make_spec(
        silent_video,
        audio={"a": "noise_a.wav", "b": "noise_b.wav"},
        music={"playlist": ["a", "b"], "volume": 1.0, "loop": False, "crossfadeDuration": 0.5},
    )
    out = decode_audio(renderer(spec).output_path)
    levels = window_levels_db(out, 0.1, 2.4, 0.02)  # the seam is 1.0-1.5 s; b ends at 2.5 s
    steady = float(np.median(levels))
    assert steady > -16  # white noise at -12 dBFS RMS, less what the AAC low-pass removes
    assert levels.min() > steady - 3.0 and levels.max() < steady + 3.0


@pytest.mark.parametrize("crossfade_s", [0.0, 0.3])
def test_looping_track_repeats_without_a_gap(
    media: Media, silent_video: str, renderer: Renderer, crossfade_s: float
) -> None:
    media.noise("noise_1s.wav", 1.0, amplitude=0.5, seed=3)
    spec = make_spec(
        silent_video,
        audio={"loop": "noise_1s.wav"},
        music={"playlist": ["loop"], "volume": 1.0, "loop": True, "crossfadeDuration": crossfade_s},
    )
    out = decode_audio(renderer(spec).output_path)
    levels = window_levels_db(out, 0.05, 2.95, 0.02)  # seams every 1 - crossfade s
    steady = float(np.median(levels))
    assert levels.min() > steady - 3.0 and levels.max() < steady + 3.0


def test_non_looping_playlist_stops_after_its_last_track(
    media: Media, silent_video: str, renderer: Renderer
) -> None:
    media.noise("noise_1s.wav", 1.0, amplitude=0.5, seed=3)
    spec = make_spec(
        silent_video,
        audio={"music": "noise_1s.wav"},
        music={"playlist": ["music"], "volume": 1.0, "loop": False},
    )
    out = decode_audio(renderer(spec).output_path)
    assert rms_db(span(out, 0.1, 0.9)) > -16
    assert rms_db(span(out, 1.1, 2.9)) < -60


def test_empty_timeline_renders_the_music_bed_alone(
    media: Media, silent_video: str, renderer: Renderer
) -> None:
    media.music("loop_2s.mp3", 2.0)
    spec = make_spec(
        silent_video, audio={"music": "loop_2s.mp3"}, music={"playlist": ["music"], "volume": 0.3}
    )
    result = renderer(spec)
    out = decode_audio(result.output_path)
    source = decode_audio(renderer.media.folder / "loop_2s.mp3")
    assert rms_db(span(out, 0.1, 1.0)) - rms_db(span(source, 0.1, 1.0)) == pytest.approx(
        20 * math.log10(0.3), abs=1.0
    )
    assert window_levels_db(out, 0.05, 2.95, 0.1).min() > -45  # the loop keeps playing to the end


def test_limiter_keeps_loud_overlapping_events_under_minus_1_dbfs(
    media: Media, silent_video: str, renderer: Renderer
) -> None:
    for kind in ("impact", "whoosh", "blip"):
        media.effect(f"{kind}.wav", kind)  # type: ignore[arg-type]
    media.music("loop_2s.mp3", 2.0)
    timeline = [
        audio_event(start, asset)
        for start, asset in [
            (0.3, "impact"),
            (0.31, "impact"),
            (0.35, "whoosh"),
            (0.4, "blip"),
            (1.0, "impact"),
        ]
    ] + [tts_event(0.2, "Loud voice.")]
    spec = make_spec(
        silent_video,
        audio={"impact": "impact.wav", "whoosh": "whoosh.wav", "blip": "blip.wav", "music": "loop_2s.mp3"},
        music={"playlist": ["music"], "volume": 1.0},
        timeline=timeline,
    )
    out = decode_audio(renderer(spec).output_path)
    assert 20 * math.log10(np.abs(out).max()) < -1.0
    assert true_peak_db(out) < -1.0
    assert rms_db(span(out, 0.3, 0.6)) > -12  # still loud: limited, not muted


def test_video_audio_is_kept_at_its_volume_and_not_ducked(media: Media, renderer: Renderer) -> None:
    video = media.video("tone_video_3s.mp4", duration_s=3.0, audio=440.0, audio_amplitude=0.4).name
    renderer.speech = FakeSynthesizer(renderer.tmp_path, kind="silence", duration_s=0.8)
    spec = make_spec(
        video,
        video_volume=0.5,
        timeline=[tts_event(1.5, "Ducking does not touch the video's sound.", duckingLevel=0.1)],
    )
    out = decode_audio(renderer(spec).output_path)
    expected = rms_db(np.full((2, 10), 0.4 * 0.5 / math.sqrt(2)))
    assert rms_db(span(out, 0.2, 1.0)) == pytest.approx(expected, abs=0.5)
    assert rms_db(span(out, 1.6, 2.2)) == pytest.approx(expected, abs=0.5)


def test_video_audio_is_dropped_at_volume_zero(media: Media, renderer: Renderer) -> None:
    video = media.video("tone_video_3s.mp4", duration_s=3.0, audio=440.0, audio_amplitude=0.4).name
    out = decode_audio(renderer(make_spec(video, video_volume=0.0)).output_path)
    assert rms_db(out) < -80


def test_speech_plays_at_its_start_and_each_distinct_request_is_synthesized_once(
    media: Media, silent_video: str, renderer: Renderer
) -> None:
    renderer.speech = FakeSynthesizer(renderer.tmp_path, kind="tone", duration_s=0.5, delay_s=0.2)
    timeline = [tts_event(0.5, "Hello."), tts_event(1.5, "Goodbye."), tts_event(2.2, "Hello.", volume=0.5)]
    out = decode_audio(renderer(make_spec(silent_video, timeline=timeline)).output_path)
    assert sorted(r.text for r in renderer.speech.calls) == ["Goodbye.", "Hello."]
    assert renderer.speech.max_concurrent == 2  # synthesized side by side
    for start in (0.5, 1.5, 2.2):
        assert abs(onset_s(out, start - 0.2, start + 0.3) - start) <= ONSET_TOLERANCE_S
    full = rms_db(span(out, 0.6, 0.9))
    assert full == pytest.approx(rms_db(np.full((2, 10), 0.3 / math.sqrt(2))), abs=0.5)
    assert rms_db(span(out, 2.3, 2.6)) - full == pytest.approx(20 * math.log10(0.5), abs=0.5)


@pytest.mark.parametrize("extension", ["wav", "mp3", "m4a", "flac"])
def test_every_audio_format_plays(
    media: Media, silent_video: str, renderer: Renderer, extension: str
) -> None:
    media.tone(f"tone_1s.{extension}", 1.0, freq_hz=1000.0, amplitude=0.5, sample_rate=44_100)
    spec = make_spec(silent_video, audio={"fx": f"tone_1s.{extension}"}, timeline=[audio_event(1.0, "fx")])
    out = decode_audio(renderer(spec).output_path)
    assert abs(onset_s(out, 0.8, 1.5) - 1.0) <= ONSET_TOLERANCE_S
    assert rms_db(span(out, 1.1, 1.9)) == pytest.approx(rms_db(np.full((2, 10), 0.5 / math.sqrt(2))), abs=0.5)
    assert rms_db(span(out, 2.1, 2.9)) < -60  # ends with the clip


def test_audio_length_matches_the_video(media: Media, silent_video: str, renderer: Renderer) -> None:
    media.music("loop_2s.mp3", 2.0)
    spec = make_spec(silent_video, audio={"music": "loop_2s.mp3"}, music={"playlist": ["music"]})
    out = decode_audio(renderer(spec).output_path)
    # AAC decoders may add up to one frame (1024 samples) of padding after the end
    assert 3 * SR <= out.shape[1] <= 3 * SR + 1024
