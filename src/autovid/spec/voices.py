"""Amazon Polly's voice catalogue: which voices exist, their language, gender and engines.

Used to validate specs (an unknown voice, an engine the voice lacks or a language it cannot speak is
refused before any render) and by the local engine to pick an espeak-ng voice of the same language
and gender, so a spec written for Polly renders locally.

Sources: the voice ids are botocore's ``VoiceId`` enum (botocore 1.44); language, gender and the
bilingual languages come from Polly's ``DescribeVoices`` answer; engines from Polly's "Available
voices" tables (generative voices as of the March 2026 additions). Voices that botocore knows but
whose details we could not confirm are marked ``confirmed=False``: they are accepted with any
engine and language, and Polly itself has the last word.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

ENGINES = ("standard", "neural", "long-form", "generative")


@dataclass(frozen=True)
class PollyVoice:
    voice_id: str
    language_code: str
    gender: str  # "Female" | "Male"
    engines: frozenset[str]
    additional_languages: frozenset[str] = frozenset()
    confirmed: bool = True

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language the voice speaks, its default first."""
        return (self.language_code, *sorted(self.additional_languages))


def _v(voice_id: str, lang: str, gender: str, engines: str, extra: str = "") -> PollyVoice:
    return PollyVoice(voice_id, lang, gender, frozenset(engines.split()), frozenset(extra.split()))


def _unconfirmed(voice_id: str, lang: str, gender: str, extra: str = "") -> PollyVoice:
    return PollyVoice(voice_id, lang, gender, frozenset(ENGINES), frozenset(extra.split()), confirmed=False)


_F, _M = "Female", "Male"

VOICES: dict[str, PollyVoice] = {
    v.voice_id: v
    for v in [
        # Arabic
        _v("Zeina", "arb", _F, "standard"),
        _v("Hala", "ar-AE", _F, "neural", "arb"),
        _v("Zayd", "ar-AE", _M, "neural", "arb"),
        # Catalan, Czech, Chinese
        _v("Arlet", "ca-ES", _F, "neural"),
        _v("Jitka", "cs-CZ", _F, "neural"),
        _v("Zhiyu", "cmn-CN", _F, "standard neural"),
        _v("Hiujin", "yue-CN", _F, "neural"),
        # Welsh, Danish
        _v("Gwyneth", "cy-GB", _F, "standard"),
        _v("Naja", "da-DK", _F, "standard"),
        _v("Mads", "da-DK", _M, "standard"),
        _v("Sofie", "da-DK", _F, "neural"),
        # German
        _v("Hannah", "de-AT", _F, "neural generative"),
        _v("Sabrina", "de-CH", _F, "neural generative"),
        _v("Marlene", "de-DE", _F, "standard"),
        _v("Vicki", "de-DE", _F, "standard neural generative"),
        _v("Hans", "de-DE", _M, "standard"),
        _v("Daniel", "de-DE", _M, "neural generative"),
        _v("Lennart", "de-DE", _M, "generative"),
        # English
        _v("Nicole", "en-AU", _F, "standard"),
        _v("Olivia", "en-AU", _F, "neural generative"),
        _v("Russell", "en-AU", _M, "standard"),
        _v("Amy", "en-GB", _F, "standard neural generative"),
        _v("Emma", "en-GB", _F, "standard neural"),
        _v("Brian", "en-GB", _M, "standard neural generative"),
        _v("Arthur", "en-GB", _M, "neural"),
        _v("Geraint", "en-GB-WLS", _M, "standard"),
        _v("Niamh", "en-IE", _F, "neural generative"),
        _v("Aditi", "en-IN", _F, "standard", "hi-IN"),
        _v("Raveena", "en-IN", _F, "standard"),
        _v("Kajal", "en-IN", _F, "neural generative", "hi-IN"),
        _v("Aria", "en-NZ", _F, "neural generative"),
        _v("Jasmine", "en-SG", _F, "neural generative"),
        _v("Ayanda", "en-ZA", _F, "neural generative"),
        _v("Danielle", "en-US", _F, "neural long-form generative"),
        _v("Gregory", "en-US", _M, "neural long-form"),
        _v("Ivy", "en-US", _F, "standard neural"),
        _v("Joanna", "en-US", _F, "standard neural generative"),
        _v("Kendra", "en-US", _F, "standard neural"),
        _v("Kimberly", "en-US", _F, "standard neural"),
        _v("Salli", "en-US", _F, "standard neural generative"),
        _v("Joey", "en-US", _M, "standard neural"),
        _v("Justin", "en-US", _M, "standard neural"),
        _v("Kevin", "en-US", _M, "neural"),
        _v("Matthew", "en-US", _M, "standard neural generative"),
        _v("Ruth", "en-US", _F, "neural long-form generative"),
        _v("Stephen", "en-US", _M, "neural generative"),
        _v("Tiffany", "en-US", _F, "generative"),
        # Spanish
        _v("Conchita", "es-ES", _F, "standard"),
        _v("Lucia", "es-ES", _F, "standard neural generative"),
        _v("Enrique", "es-ES", _M, "standard"),
        _v("Sergio", "es-ES", _M, "neural generative"),
        _v("Mia", "es-MX", _F, "standard neural generative"),
        _v("Andres", "es-MX", _M, "neural generative"),
        _v("Lupe", "es-US", _F, "standard neural generative"),
        _v("Penelope", "es-US", _F, "standard"),
        _v("Miguel", "es-US", _M, "standard"),
        _v("Pedro", "es-US", _M, "neural generative"),
        # Finnish, French
        _v("Suvi", "fi-FI", _F, "neural"),
        _v("Isabelle", "fr-BE", _F, "neural generative"),
        _v("Chantal", "fr-CA", _F, "standard"),
        _v("Gabrielle", "fr-CA", _F, "neural generative"),
        _v("Liam", "fr-CA", _M, "neural generative"),
        _v("Celine", "fr-FR", _F, "standard"),
        _v("Lea", "fr-FR", _F, "standard neural generative"),
        _v("Ambre", "fr-FR", _F, "generative"),
        _v("Mathieu", "fr-FR", _M, "standard"),
        _v("Remi", "fr-FR", _M, "neural generative"),
        _v("Florian", "fr-FR", _M, "generative"),
        # Icelandic, Italian
        _v("Dora", "is-IS", _F, "standard"),
        _v("Karl", "is-IS", _M, "standard"),
        _v("Carla", "it-IT", _F, "standard"),
        _v("Bianca", "it-IT", _F, "standard neural generative"),
        _v("Beatrice", "it-IT", _F, "generative"),
        _v("Giorgio", "it-IT", _M, "standard"),
        _v("Adriano", "it-IT", _M, "neural generative"),
        _v("Lorenzo", "it-IT", _M, "generative"),
        # Japanese, Korean
        _v("Mizuki", "ja-JP", _F, "standard"),
        _v("Kazuha", "ja-JP", _F, "neural"),
        _v("Tomoko", "ja-JP", _F, "neural"),
        _v("Takumi", "ja-JP", _M, "standard neural"),
        _v("Seoyeon", "ko-KR", _F, "standard neural"),
        _v("Jihye", "ko-KR", _F, "neural"),
        # Norwegian, Dutch, Polish
        _v("Liv", "nb-NO", _F, "standard"),
        _v("Ida", "nb-NO", _F, "neural"),
        _v("Lisa", "nl-BE", _F, "neural generative"),
        _v("Laura", "nl-NL", _F, "neural generative"),
        _v("Lotte", "nl-NL", _F, "standard"),
        _v("Ruben", "nl-NL", _M, "standard"),
        _v("Ewa", "pl-PL", _F, "standard"),
        _v("Maja", "pl-PL", _F, "standard"),
        _v("Ola", "pl-PL", _F, "neural generative"),
        _v("Jacek", "pl-PL", _M, "standard"),
        _v("Jan", "pl-PL", _M, "standard"),
        # Portuguese
        _v("Camila", "pt-BR", _F, "standard neural generative"),
        _v("Vitoria", "pt-BR", _F, "standard neural"),
        _v("Ricardo", "pt-BR", _M, "standard"),
        _v("Thiago", "pt-BR", _M, "neural generative"),
        _v("Ines", "pt-PT", _F, "standard neural generative"),
        _v("Cristiano", "pt-PT", _M, "standard"),
        # Romanian, Russian, Swedish, Turkish
        _v("Carmen", "ro-RO", _F, "standard"),
        _v("Tatyana", "ru-RU", _F, "standard"),
        _v("Maxim", "ru-RU", _M, "standard"),
        _v("Astrid", "sv-SE", _F, "standard"),
        _v("Elin", "sv-SE", _F, "neural"),
        _v("Filiz", "tr-TR", _F, "standard"),
        _v("Burcu", "tr-TR", _F, "neural"),
        # Newest ids in botocore (2026); details not confirmed from Polly's tables.
        _unconfirmed("Kiara", "en-IN", _F, "hi-IN"),
        _unconfirmed("Arjun", "en-IN", _M, "hi-IN"),
        _unconfirmed("Carolina", "pt-BR", _F),
        _unconfirmed("Leo", "pt-BR", _M),
        _unconfirmed("Tina", "de-DE", _F),
        _unconfirmed("Carlos", "es-US", _M),
        _unconfirmed("Hyunduk", "ko-KR", _M),
        _unconfirmed("Curtis", "en-US", _M),
        _unconfirmed("Kenneth", "en-US", _M),
        _unconfirmed("Nate", "en-US", _M),
    ]
}

_BY_LOWER = {voice_id.lower(): voice for voice_id, voice in VOICES.items()}


def find_voice(voice_id: str) -> PollyVoice | None:
    return VOICES.get(voice_id)


def suggest_voice(voice_id: str) -> str | None:
    """The catalogue's spelling of ``voice_id`` when it differs only in case (``'joanna'``)."""
    voice = _BY_LOWER.get(voice_id.lower())
    return voice.voice_id if voice else None


def engine_problem(voice: PollyVoice, engine: str) -> str | None:
    if engine in voice.engines:
        return None
    engines = ", ".join(e for e in ENGINES if e in voice.engines)
    return f"voice '{voice.voice_id}' does not support the '{engine}' engine; it supports: {engines}"


def language_problem(voice: PollyVoice, language_code: str | None) -> str | None:
    """Why ``voice`` cannot speak ``language_code`` (None when it can, or when no code is given)."""
    if language_code is None or not voice.confirmed:
        return None
    if language_code.lower() in (code.lower() for code in voice.languages):
        return None
    return (
        f"voice '{voice.voice_id}' does not speak '{language_code}'; it speaks: {', '.join(voice.languages)}"
    )


def unknown_voice_message(voice_id: str, language_code: str | None = None) -> str:
    """Says the voice is unknown; suggests the closest id and lists the voices of
    ``language_code`` (the spec's language), so the right one can be picked from the message."""
    message = f"unknown Amazon Polly voice '{voice_id}'"
    suggestion = suggest_voice(voice_id)
    if suggestion:
        return f"{message}; did you mean '{suggestion}'? (ids are case-sensitive)"
    voices = voices_for_language(language_code) if language_code else list(VOICES.values())
    close = difflib.get_close_matches(voice_id, [v.voice_id for v in voices], n=1, cutoff=0.7)
    if close:
        message += f"; did you mean '{close[0]}'?"
    sep = " " if close else "; "
    if language_code is None:
        return f"{message}{sep}Set providerConfig.languageCode to list the voices of a language"
    if not voices:
        return f"{message}{sep}No Amazon Polly voice speaks '{language_code}'"
    names = ", ".join(sorted(v.voice_id for v in voices))
    return f"{message}{sep}Voices for {language_code}: {names}"


def voices_for_language(language_code: str) -> list[PollyVoice]:
    code = language_code.lower()
    return [v for v in VOICES.values() if code in (c.lower() for c in v.languages)]
