"""Specs written for Polly stay valid; voice/language mismatches are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.errors import SpecError
from autovid.spec.models import TtsEvent
from autovid.spec.validation import parse_spec


def test_reference_specs_validate(reference_specs: list[Path]) -> None:
    for path in reference_specs:
        spec = parse_spec(path.read_bytes())
        assert spec.output.filename


def tts_spec(provider_config: dict[str, str], provider: str = "aws-polly") -> dict[str, object]:
    return {
        "assets": {"video": {"id": "v", "source": "v.mp4"}},
        "timeline": [
            {
                "start": 0,
                "type": "tts",
                "data": {"text": "Hola.", "provider": provider, "providerConfig": provider_config},
            }
        ],
        "output": {"filename": "out"},
    }


def errors(spec: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    return {e.path: e.message for e in info.value.errors}


def test_language_the_voice_cannot_speak_is_refused() -> None:
    found = errors(tts_spec({"voiceId": "Lea", "engine": "generative", "languageCode": "es-US"}))
    assert found == {
        "timeline[0].data.providerConfig.languageCode": "voice 'Lea' does not speak 'es-US'; it speaks: fr-FR"
    }


def test_bilingual_voice_accepts_its_second_language() -> None:
    spec = parse_spec(tts_spec({"voiceId": "Kajal", "engine": "neural", "languageCode": "hi-IN"}))
    event = spec.timeline[0]
    assert isinstance(event, TtsEvent) and event.data.providerConfig.languageCode == "hi-IN"


def test_espeak_provider_is_not_held_to_polly_voices() -> None:
    assert parse_spec(tts_spec({"voiceId": "en-us+f2", "languageCode": "eo"}, provider="espeak-ng"))


def test_lower_case_voice_gets_a_suggestion() -> None:
    found = errors(tts_spec({"voiceId": "pedro"}))
    assert "did you mean 'Pedro'" in found["timeline[0].data.providerConfig.voiceId"]
