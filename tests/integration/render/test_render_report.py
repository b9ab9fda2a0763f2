"""What a render reports beside its file: the voices that spoke, and the warnings of its plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.adapters.local.espeak import EspeakEngine
from autovid.render.report import SPEECH_CUT_AT_END, VOICE_SUBSTITUTED, VoiceUsed
from autovid.speech.synthesizer import SpeechSynthesizer

from .conftest import Media, Renderer, make_spec, tts_event


@pytest.fixture
def espeak_renderer(renderer: Renderer, tmp_path: Path) -> Renderer:
    renderer.speech = SpeechSynthesizer(EspeakEngine(), tmp_path / "speech-cache")  # type: ignore[assignment]
    return renderer


def test_the_local_voice_standing_in_for_polly_is_reported(media: Media, espeak_renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    spec = make_spec(
        video,
        timeline=[
            tts_event(0.1, "One."),
            tts_event(1.0, "Two.", providerConfig={"voiceId": "Matthew"}),
            tts_event(1.5, "Three."),
            tts_event(2.0, "Four.", provider="espeak-ng", providerConfig={"voiceId": "en-us"}),
        ],
    )
    result = espeak_renderer(spec)
    assert result.voices == (
        VoiceUsed(0, "Joanna", "espeak-ng", "en-us+f3"),
        VoiceUsed(1, "Matthew", "espeak-ng", "en-us+m3"),
        VoiceUsed(2, "Joanna", "espeak-ng", "en-us+f3"),
        VoiceUsed(3, "en-us", "espeak-ng", "en-us"),
    )
    substituted = [w for w in result.warnings if w.code == VOICE_SUBSTITUTED]
    assert [w.message for w in substituted] == [
        "timeline[0], timeline[2]: the Polly voice 'Joanna' is not available here (no Polly configured); "
        "espeak-ng voice 'en-us+f3' spoke instead",
        "timeline[1]: the Polly voice 'Matthew' is not available here (no Polly configured); "
        "espeak-ng voice 'en-us+m3' spoke instead",
    ]


def test_speech_cut_at_the_end_is_in_the_render_result(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_3s.mp4", duration_s=3.0).name
    renderer.speech.duration_s = 2.0
    result = renderer(make_spec(video, timeline=[tts_event(2.0, "Too late to finish.")]))
    (warning,) = [w for w in result.warnings if w.code == SPEECH_CUT_AT_END]
    assert warning.message.startswith("timeline[0] (speech) runs past the video's end at 3.00 s")
    assert "the last 1.00 s of its 2.00 s are cut" in warning.message
