"""The Polly voice catalogue and the voice checks that spec validation uses."""

from __future__ import annotations

import pytest
from botocore.loaders import Loader

from autovid.spec.voices import (
    ENGINES,
    VOICES,
    engine_problem,
    find_voice,
    language_problem,
    suggest_voice,
    unknown_voice_message,
    voices_for_language,
)


def botocore_enum(shape: str) -> list[str]:
    model = Loader().load_service_model("polly", "service-2")
    return list(model["shapes"][shape]["enum"])


def test_catalogue_holds_exactly_the_voice_ids_botocore_knows() -> None:
    assert sorted(VOICES) == sorted(botocore_enum("VoiceId"))


def test_every_voice_has_a_polly_language_a_gender_and_engines() -> None:
    languages = set(botocore_enum("LanguageCode"))
    for voice in VOICES.values():
        assert voice.language_code in languages, voice
        assert voice.additional_languages <= languages, voice
        assert voice.gender in ("Female", "Male"), voice
        assert voice.engines and voice.engines <= set(ENGINES), voice


@pytest.mark.parametrize(
    ("voice_id", "language", "gender", "engines"),
    [
        ("Lea", "fr-FR", "Female", {"standard", "neural", "generative"}),
        ("Pedro", "es-US", "Male", {"neural", "generative"}),
        ("Matthew", "en-US", "Male", {"standard", "neural", "generative"}),
        ("Joanna", "en-US", "Female", {"standard", "neural", "generative"}),
        ("Danielle", "en-US", "Female", {"neural", "long-form", "generative"}),
        ("Gregory", "en-US", "Male", {"neural", "long-form"}),
        ("Zeina", "arb", "Female", {"standard"}),
    ],
)
def test_known_voices(voice_id: str, language: str, gender: str, engines: set[str]) -> None:
    voice = find_voice(voice_id)
    assert voice is not None
    assert (voice.language_code, voice.gender, set(voice.engines)) == (language, gender, engines)


def test_bilingual_voices_speak_their_second_language() -> None:
    aditi = find_voice("Aditi")
    assert aditi is not None and aditi.languages == ("en-IN", "hi-IN")
    assert language_problem(aditi, "hi-IN") is None
    assert find_voice("Zayd") in voices_for_language("arb")


def test_engine_problem_names_the_engines_the_voice_has() -> None:
    voice = find_voice("Pedro")
    assert voice is not None
    assert engine_problem(voice, "generative") is None
    message = engine_problem(voice, "standard")
    assert message == "voice 'Pedro' does not support the 'standard' engine; it supports: neural, generative"


def test_language_problem_names_the_languages_the_voice_speaks() -> None:
    voice = find_voice("Lea")
    assert voice is not None
    assert language_problem(voice, None) is None
    assert language_problem(voice, "fr-FR") is None
    assert language_problem(voice, "fr-fr") is None  # codes compare without case
    assert language_problem(voice, "es-US") == "voice 'Lea' does not speak 'es-US'; it speaks: fr-FR"


def test_unknown_voice_message_suggests_the_right_case() -> None:
    assert suggest_voice("joanna") == "Joanna"
    assert "did you mean 'Joanna'" in unknown_voice_message("joanna")
    assert suggest_voice("Nobody") is None
    assert unknown_voice_message("Nobody").startswith("unknown Amazon Polly voice 'Nobody'")
