"""Amazon Polly's voice catalogue: which voices exist, their language, gender and engines.

Used to validate specs (an unknown voice or an engine the voice lacks is refused before any
render) and by the local engine to pick an espeak-ng voice of the same language and gender, so a
spec written for Polly renders locally.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("standard", "neural", "long-form", "generative")


@dataclass(frozen=True)
class PollyVoice:
    voice_id: str
    language_code: str
    gender: str  # "Female" | "Male"
    engines: frozenset[str]
    additional_languages: frozenset[str] = frozenset()


def _v(voice_id: str, lang: str, gender: str, engines: str, extra: str = "") -> PollyVoice:
    return PollyVoice(
        voice_id,
        lang,
        gender,
        frozenset(engines.split()),
        frozenset(extra.split()),
    )


# TODO(speech): complete from Polly's documentation (all voices, engines, bilingual languages).
VOICES: dict[str, PollyVoice] = {
    v.voice_id: v
    for v in [
        _v("Joanna", "en-US", "Female", "standard neural generative"),
        _v("Matthew", "en-US", "Male", "standard neural generative"),
        _v("Lea", "fr-FR", "Female", "standard neural generative"),
        _v("Pedro", "es-US", "Male", "neural generative"),
    ]
}


def find_voice(voice_id: str) -> PollyVoice | None:
    return VOICES.get(voice_id)
