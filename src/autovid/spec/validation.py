"""Turn raw JSON into a ``JobSpec`` or a ``SpecError`` whose details name each field and the rule.

Validation is one pass: the schema (pydantic, strict JSON types) and the cross-field rules
(``spec.rules``) both run, so every problem is listed at once. Messages are written for the person
who wrote the spec: an unknown field suggests the closest known name and lists the allowed ones;
no validator phrasing ("Input should be ...") reaches them.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from autovid.errors import ErrorDetail, SpecError, format_path
from autovid.spec.models import JobSpec, SpecLimits, _CrossFieldErrors
from autovid.spec.rules import cross_field_problems

__all__ = ["format_path", "parse_spec", "problem_details"]

_FRIENDLY = {
    "missing": "is required",
    "union_tag_invalid": "must be 'tts' or 'audio'",
    "union_tag_not_found": "needs a 'type' of 'tts' or 'audio'",
    "finite_number": "must be a finite number (NaN and Infinity are not JSON numbers)",
}
_TYPE_NAMES = {
    "float": "a number",
    "int": "a whole number",
    "str": "a string",
    "string": "a string",
    "bool": "true or false",
    "list": "an array",
    "dict": "an object",
    "model": "an object",
    "model_attributes": "an object",
    "none": "null",
}
_PATTERN_HINTS = {
    "bitrate": "must be a video bitrate with its unit, 100k or more, such as '2500k' or '5M'",
    "audio_bitrate": "must be an audio bitrate with its unit, from 32k to 512k, such as '128k' or '192k'",
    "id": "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
    "languageCode": "must be a language code such as 'en-US' or 'fr-FR'",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}
# How pydantic names the member of a union in an error's location: "str", "constrained-str", ...
_UNION_MEMBER = re.compile(r"^(constrained-)?(str|int|float|bool|none)$|^(list|dict)\[")


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
        raise SpecError(_details(exc, raw)) from None
    except RecursionError:  # a document nested deeper than any spec field
        raise SpecError([ErrorDetail("$", "the document is nested too deeply")]) from None


def _details(exc: ValidationError, raw: dict[str, Any]) -> list[ErrorDetail]:
    details = problem_details(exc.errors(), JobSpec, raw)
    if not any(isinstance((e.get("ctx") or {}).get("error"), _CrossFieldErrors) for e in exc.errors()):
        # The schema errors stopped pydantic before the cross-field rules: run them on the document.
        flagged = {d.path for d in details}
        for loc, message in cross_field_problems(raw):
            if format_path(loc) not in flagged:
                details.append(ErrorDetail(format_path(loc), message))
    return details


def problem_details(
    errors: Sequence[Mapping[str, Any]], model: type[BaseModel] | None = None, document: Any = None
) -> list[ErrorDetail]:
    """pydantic's errors as ``ErrorDetail``s in the spec's words. ``model`` and ``document`` (the
    input) let an unknown field be compared with the names allowed where it was found."""
    details: list[ErrorDetail] = []
    union_members: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for error in errors:
        loc = _clean_loc(tuple(error["loc"]))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _CrossFieldErrors):
            details.extend(ErrorDetail(format_path(loc + p), m) for p, m in cause.problems)
        elif loc and isinstance(loc[-1], str) and _UNION_MEMBER.match(loc[-1]):
            if loc[:-1] not in union_members:
                details.append(ErrorDetail(format_path(loc[:-1]), ""))  # filled in below
            union_members.setdefault(loc[:-1], []).append(error)
        else:
            details.append(ErrorDetail(format_path(loc), _message(error, loc, model, document)))
    merged = {format_path(loc): _union_message(members) for loc, members in union_members.items()}
    return [ErrorDetail(d.path, d.message or merged[d.path]) for d in details]


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # Discriminated unions insert the tag ('tts'/'audio') after the list index; clients never wrote it.
    cleaned: list[str | int] = []
    for i, part in enumerate(loc):
        if i > 0 and isinstance(loc[i - 1], int) and part in ("tts", "audio") and cleaned[:1] == ["timeline"]:
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _message(error: Mapping[str, Any], loc: tuple[str | int, ...], model: Any, document: Any) -> str:
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    if kind == "extra_forbidden":
        return _unknown_field_message(loc, model, document)
    expected = kind.rsplit("_", 1)[0]
    if kind.endswith(("_type", "_parsing")) and expected in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[expected]}, not {_json_type(error.get('input'))}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {_number(ctx.get(key))}"
    if kind == "literal_error":
        return f"must be one of {str(ctx.get('expected', '')).replace(' or ', ', ')}"
    if kind == "string_pattern_mismatch" and loc and loc[-1] in _PATTERN_HINTS:
        return _PATTERN_HINTS[str(loc[-1])]
    if kind in ("string_too_short", "string_too_long", "too_short", "too_long"):
        return _length_message(kind, ctx)
    message = str(error.get("msg", "is invalid"))
    if message.startswith("Value error, "):
        return message[len("Value error, ") :]
    return message.replace("Input should be", "must be").replace("String should", "must")


def _length_message(kind: str, ctx: Mapping[str, Any]) -> str:
    bound = ctx.get("min_length") if kind.endswith("short") else ctx.get("max_length")
    words = "at least" if kind.endswith("short") else "at most"
    if kind.startswith("string"):
        unit = "character" if bound == 1 else "characters"
        return (
            "must not be empty" if bound == 1 and words == "at least" else f"must be {words} {bound} {unit}"
        )
    unit = "item" if bound == 1 else "items"
    return f"must have {words} {bound} {unit}, not {ctx.get('actual_length')}"


def _union_message(members: list[Mapping[str, Any]]) -> str:
    if any(m["type"] == "finite_number" for m in members):
        return _FRIENDLY["finite_number"]
    names: list[str] = []
    for member in members:
        tag = str(member["loc"][-1]).removeprefix("constrained-").split("[")[0]
        name = _TYPE_NAMES.get(tag, tag)
        if name not in names:
            names.append(name)
    if "a number" in names and "a whole number" in names:
        names.remove("a whole number")
    value = _json_type(members[0].get("input"))
    return (
        f"must be {', '.join(names[:-1])} or {names[-1]}, not {value}"
        if len(names) > 1
        else f"must be {names[0]}"
    )


def _unknown_field_message(loc: tuple[str | int, ...], model: Any, document: Any) -> str:
    name = str(loc[-1]) if loc else "?"
    allowed = _allowed_fields(loc[:-1], model, document)
    if not allowed:
        return "is not a known field"
    folded = {a.lower(): a for a in allowed}
    close = (
        [folded[name.lower()]] if name.lower() in folded else difflib.get_close_matches(name, allowed, 1, 0.6)
    )
    hint = f"; did you mean '{close[0]}'? Allowed here:" if close else "; allowed here:"
    return f"is not a known field{hint} {', '.join(allowed)}"


def _allowed_fields(parent: tuple[str | int, ...], model: Any, document: Any) -> list[str]:
    """The JSON names of the fields of the model found at ``parent``, walking the document along
    (it tells which member of a union of models, such as a timeline event, is meant)."""
    annotation = model
    for part in parent:
        if isinstance(part, str):
            field = _fields(_model_in(annotation, document)).get(part)
            if field is None:
                return []
            annotation = field.annotation
        document = _child(document, part)
    return list(_fields(_model_in(annotation, document)))


def _fields(model: Any) -> dict[str, Any]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return {}
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _model_in(annotation: Any, document: Any) -> type[BaseModel] | None:
    """The model an annotation holds (through Optional, list, Annotated, unions); for a union of
    models, the one whose ``type`` literal matches the document's."""
    candidates = [m for m in _models(annotation)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    tag = document.get("type") if isinstance(document, Mapping) else None
    for candidate in candidates:
        field = candidate.model_fields.get("type")
        if field is not None and tag in typing.get_args(field.annotation):
            return candidate
    return None


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is dict:
        return []  # a free-form mapping: its keys are the client's
    found: list[type[BaseModel]] = []
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(m for m in _models(arg) if m not in found)
    return found


def _child(document: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return (
            document[part] if isinstance(document, list) and -len(document) <= part < len(document) else None
        )
    return document.get(part) if isinstance(document, Mapping) else None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:40]}"
    names = {list: "an array", dict: "an object", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
