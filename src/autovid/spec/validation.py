"""Turn raw JSON into a ``JobSpec`` or a ``SpecError`` whose details name each field and the rule."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from autovid.errors import ErrorDetail, SpecError
from autovid.spec.models import JobSpec, SpecLimits, _CrossFieldErrors

_FRIENDLY = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "union_tag_invalid": "must be 'tts' or 'audio'",
    "union_tag_not_found": "needs a 'type' of 'tts' or 'audio'",
}
_PATTERN_HINTS = {
    "bitrate": "must be a bitrate such as '2500k', '5M' or '128000'",
    "audio_bitrate": "must be a bitrate such as '128k' or '192000'",
    "id": "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
    "languageCode": "must be a language code such as 'en-US' or 'fr-FR'",
}


def parse_spec(raw: bytes | str | dict[str, Any], limits: SpecLimits | None = None) -> JobSpec:
    """Validate a job spec given as JSON text or an already-decoded object."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError([ErrorDetail("$", f"not valid JSON: {exc}")]) from None
    if not isinstance(raw, dict):
        raise SpecError([ErrorDetail("$", "a job spec must be a JSON object")])
    try:
        return JobSpec.model_validate(raw, context={"limits": limits or SpecLimits()})
    except ValidationError as exc:
        raise SpecError(_details(exc)) from None


def format_path(loc: tuple[str | int, ...]) -> str:
    """('timeline', 2, 'data', 'assetId') -> 'timeline[2].data.assetId'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def _details(exc: ValidationError) -> list[ErrorDetail]:
    details: list[ErrorDetail] = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error["loc"]))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _CrossFieldErrors):
            details.extend(ErrorDetail(format_path(loc + p), m) for p, m in cause.problems)
            continue
        details.append(ErrorDetail(format_path(loc), _message(error, loc)))
    return details


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # Discriminated unions insert the tag ('tts'/'audio') after the list index; clients never wrote it.
    cleaned: list[str | int] = []
    for i, part in enumerate(loc):
        if i > 0 and isinstance(loc[i - 1], int) and part in ("tts", "audio") and cleaned[:1] == ["timeline"]:
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    if kind == "string_pattern_mismatch" and loc and loc[-1] in _PATTERN_HINTS:
        return _PATTERN_HINTS[str(loc[-1])]
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message
