"""BCP 47 language tags -> the ISO 639-2 codes MP4 tracks carry."""

from __future__ import annotations

_ISO_639_2 = {
    "ar": "ara", "arb": "ara", "ca": "cat", "cmn": "chi", "zh": "chi", "yue": "chi", "cs": "cze",
    "cy": "wel", "da": "dan", "de": "ger", "en": "eng", "es": "spa", "fi": "fin", "fr": "fre",
    "he": "heb", "hi": "hin", "is": "ice", "it": "ita", "ja": "jpn", "ko": "kor", "nb": "nor",
    "nl": "dut", "pl": "pol", "pt": "por", "ro": "rum", "ru": "rus", "sv": "swe", "tr": "tur",
    "uk": "ukr", "el": "gre", "hu": "hun", "id": "ind", "vi": "vie", "th": "tha", "fa": "per",
}  # fmt: skip


def mp4_language(tag: str) -> str:
    """'en-US' -> 'eng'; 'und' (undetermined) for a language not listed."""
    base = tag.split("-")[0].lower()
    return _ISO_639_2.get(base, base if len(base) == 3 else "und")
