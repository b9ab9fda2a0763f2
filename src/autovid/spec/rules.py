"""Cross-field rules of the job spec: ids that must exist or be unique, voices, SSML.

They read the JSON document itself, tolerating fields of the wrong type (those are schema errors,
reported separately), so that ``validate`` lists a mistyped asset id or an unknown voice in the
same pass as a schema error elsewhere. ``JobSpec`` runs them on its validated form too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autovid.spec.ssml import ssml_problem
from autovid.spec.voices import engine_problem, find_voice, language_problem, unknown_voice_message

DEFAULT_VOICE = "Joanna"  # ProviderConfig's default voiceId
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def cross_field_problems(spec: Any) -> list[Problem]:
    """Every cross-field problem of a spec document (a dict as decoded from JSON)."""
    if not isinstance(spec, Mapping):
        return []
    audio = _list(_get(spec, "assets", "audio"))
    ids = [a["id"] for a in audio if isinstance(a, Mapping) and isinstance(a.get("id"), str)]
    problems = _duplicate_ids(_get(spec, "assets", "video", "id"), audio)
    known = ", ".join(f"'{a}'" for a in ids) or "none (assets.audio is empty)"
    for i, track in enumerate(_list(_get(spec, "backgroundMusic", "playlist"))):
        if isinstance(track, str) and track not in ids:
            problems.append(
                (
                    ("backgroundMusic", "playlist", i),
                    f"unknown audio asset id '{track}'; known audio asset ids: {known}",
                )
            )
    events = _list(spec.get("timeline"))
    language = _spec_language(events)
    for i, event in enumerate(events):
        data = _get(event, "data")
        if not isinstance(data, Mapping):
            continue
        kind = event.get("type")
        asset_id = data.get("assetId")
        if kind == "audio" and isinstance(asset_id, str) and asset_id and asset_id not in ids:
            problems.append(
                (
                    ("timeline", i, "data", "assetId"),
                    f"unknown audio asset id '{asset_id}'; known audio asset ids: {known}",
                )
            )
        if kind == "tts":
            problems.extend(
                (("timeline", i, "data", *loc), message) for loc, message in tts_problems(data, language)
            )
    return problems


def tts_problems(data: Mapping[str, Any], spec_language: str | None = None) -> list[Problem]:
    """SSML that Polly would refuse, and Polly voices that are unknown or cannot do what is asked."""
    problems: list[Problem] = []
    config = data.get("providerConfig", {})
    config = config if isinstance(config, Mapping) else {}
    text = data.get("text")
    if config.get("textType") == "ssml" and isinstance(text, str):
        problem = ssml_problem(text)
        if problem:
            problems.append((("text",), problem))
    if data.get("provider", "aws-polly") != "aws-polly":
        return problems
    voice_id = config.get("voiceId", DEFAULT_VOICE)
    language = config.get("languageCode")
    language = language if isinstance(language, str) else None
    if not isinstance(voice_id, str) or not voice_id:
        return problems
    voice = find_voice(voice_id)
    if voice is None:
        message = unknown_voice_message(voice_id, language or spec_language)
        problems.append((("providerConfig", "voiceId"), message))
        return problems
    engine = config.get("engine", "neural")
    engine_issue = engine_problem(voice, engine) if isinstance(engine, str) else None
    if engine_issue:
        problems.append((("providerConfig", "engine"), engine_issue))
    language_issue = language_problem(voice, language)
    if language_issue:
        problems.append((("providerConfig", "languageCode"), language_issue))
    return problems


def _spec_language(events: list[Any]) -> str | None:
    """The language the spec's speech is in: the first languageCode a TTS event states, else the
    language of the first known voice it asks for, else the default voice's."""
    tts = [_get(event, "data") for event in events if _get(event, "type") == "tts"]
    configs = [_get(data, "providerConfig") or {} for data in tts if isinstance(data, Mapping)]
    configs = [config for config in configs if isinstance(config, Mapping)]
    for config in configs:
        if isinstance(config.get("languageCode"), str):
            return str(config["languageCode"])
    for config in configs:
        voice_id = config.get("voiceId", DEFAULT_VOICE)
        voice = find_voice(voice_id) if isinstance(voice_id, str) else None
        if voice is not None:
            return voice.language_code
    default = find_voice(DEFAULT_VOICE)
    return default.language_code if default else None  # what the default voice speaks


def _duplicate_ids(video_id: Any, audio: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    seen = {video_id} if isinstance(video_id, str) else set()
    for i, asset in enumerate(audio):
        asset_id = asset.get("id") if isinstance(asset, Mapping) else None
        if not isinstance(asset_id, str):
            continue
        if asset_id in seen:
            problems.append(
                (("assets", "audio", i, "id"), f"duplicate asset id '{asset_id}'; ids must be unique")
            )
        seen.add(asset_id)
    return problems


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
