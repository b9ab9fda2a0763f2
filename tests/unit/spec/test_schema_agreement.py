"""``autovid validate`` and the published JSON Schema agree on every spec (cross-field rules and
deployment limits aside): hundreds of specs are made invalid one field at a time, as the schema
describes each field, and both must give the same verdict on each."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from autovid.errors import SpecError, format_path
from autovid.spec.rules import cross_field_problems
from autovid.spec.validation import parse_spec

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO_ROOT / "docs" / "spec.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)

# Every field filled in, so that every part of the schema gets mutated.
RICH: dict[str, Any] = {
    "$schema": "./spec.schema.json",
    "jobInfo": {"projectId": "p", "title": "t", "tags": ["a", "b"]},
    "assets": {
        "video": {"id": "main", "source": "in.mp4", "volume": 0.5},
        "audio": [{"id": "music", "source": "m.mp3"}, {"id": "sfx", "source": "https://example.com/s.wav"}],
    },
    "backgroundMusic": {"playlist": ["music"], "loop": False, "volume": 0.3, "crossfadeDuration": 2},
    "timeline": [
        {
            "start": 1.5,
            "type": "audio",
            "data": {"assetId": "sfx", "volume": 0.6, "duckingLevel": 0.2, "duckingFadeDuration": 0.5},
        },
        {
            "start": 2,
            "type": "tts",
            "data": {
                "text": "Hello.",
                "provider": "aws-polly",
                "providerConfig": {
                    "voiceId": "Joanna",
                    "engine": "neural",
                    "languageCode": "en-US",
                    "textType": "text",
                },
                "volume": 1,
                "duckingLevel": 0.1,
                "duckingFadeDuration": 1,
            },
        },
    ],
    "output": {
        "filename": "out.mp4",
        "destination": "renders",
        "encoding": {"preset": "fast", "bitrate": "2500k", "audio_bitrate": "128k", "fps": 30},
    },
    "notifications": {
        "webhook": {
            "url": "https://example.com/hook",
            "method": "PUT",
            "headers": {"X-Token": "t"},
            "metadata": {"id": 7, "name": "n", "ratio": 0.5, "ok": True},
        }
    },
}

# Strings tried wherever a field has a pattern: the schema decides which are valid.
PATTERN_PROBES = [
    "",
    "x",
    "-x",
    "2500",
    "99k",
    "100k",
    "0.1M",
    "0.05M",
    "5M",
    "2.5m",
    "512k",
    "513k",
    "32k",
    "31k",
    "en-US",
    "EN",
    "e",
    "a b",
    ".mp4",
    "a/b.mp4",
    "x\u202e.mp4",
    "a" * 65,
    "X-Ok",
    "Bad Header",
]
TYPE_SAMPLES: dict[str, Any] = {
    "string": "1.5",
    "number": 1.5,
    "integer": 3,
    "boolean": True,
    "null": None,
    "array": [1],
    "object": {"k": 1},
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def branches(schema: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    """The concrete (resolved) subschemas that may describe ``value``."""
    schema = resolve(schema)
    if "oneOf" in schema and "discriminator" in schema and isinstance(value, dict):
        target = schema["discriminator"]["mapping"].get(value.get("type"))
        return [resolve({"$ref": target})] if target else []
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [b for option in options for b in branches(option, value)]
    return [schema]


def types_of(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for branch in branches(schema, None) if ("anyOf" in schema or "$ref" in schema) else [schema]:
        kind = branch.get("type")
        found |= set(kind) if isinstance(kind, list) else {kind} if kind else set()
    if "oneOf" in resolve(schema):
        found.add("object")
    return found


def mutations_of(schema: dict[str, Any], value: Any) -> Iterator[Any]:
    """Values for one field, just outside (and on) each limit its schema states."""
    allowed = types_of(schema)
    for kind, sample in TYPE_SAMPLES.items():
        if kind not in allowed and not (kind == "integer" and "number" in allowed):
            yield sample
    for branch in branches(schema, value):
        yield from _limit_probes(branch)


def _limit_probes(branch: dict[str, Any]) -> Iterator[Any]:
    for key, delta in (
        ("minimum", -0.001),
        ("maximum", 0.001),
        ("exclusiveMinimum", 0),
        ("exclusiveMaximum", 0),
    ):
        if key in branch:
            yield branch[key] + delta
            yield branch[key]
    if "enum" in branch:
        yield "not-an-option"
        yield str(branch["enum"][0]).upper()
    if "const" in branch:
        yield str(branch["const"]) + "x"
    if "minLength" in branch:
        yield "x" * max(branch["minLength"] - 1, 0)
    if "maxLength" in branch:
        yield "y" * branch["maxLength"]
        yield "y" * (branch["maxLength"] + 1)
    if "pattern" in branch:
        yield from PATTERN_PROBES
    if branch.get("type") == "array":
        yield []
        if "maxItems" in branch and branch["maxItems"] <= 200:
            yield ["music"] * (branch["maxItems"] + 1)


def invalid_specs(spec: Any, schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(description, mutated spec) for every field of ``spec``, recursively."""
    for replacement in mutations_of(schema, _at(spec, path)):
        yield f"{format_path(path)} = {json.dumps(replacement)[:40]}", _replaced(spec, path, replacement)
    value = _at(spec, path)
    for branch in branches(schema, value):
        if isinstance(value, dict) and "properties" in branch:
            yield from _object_mutations(spec, branch, path, value)
        elif isinstance(value, dict) and isinstance(branch.get("additionalProperties"), dict):
            for key in list(value):
                yield from invalid_specs(spec, branch["additionalProperties"], (*path, key))
            if "propertyNames" in branch:
                for name in ("Bad Header", "X-Fine", ""):
                    yield f"{format_path(path)} key {name!r}", _replaced(spec, (*path, name), "v")
        elif isinstance(value, list) and "items" in branch:
            for i in range(len(value)):
                yield from invalid_specs(spec, branch["items"], (*path, i))


def _object_mutations(
    spec: Any, branch: dict[str, Any], path: tuple[Any, ...], value: dict[str, Any]
) -> Iterator:
    for key in branch.get("required", []):
        yield f"{format_path(path)} without {key}", _removed(spec, (*path, key))
    typos = [key.lower() for key in branch["properties"] if key.lower() != key]  # 'duckinglevel'
    for typo in [*typos[:1], "bogus"]:
        yield f"{format_path(path)} + {typo}", _replaced(spec, (*path, typo), 1)
    for key, sub in branch["properties"].items():
        if key in value:
            yield from invalid_specs(spec, sub, (*path, key))


def _at(spec: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        spec = spec[part]
    return spec


def _replaced(spec: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return copy.deepcopy(value)
    copied = copy.deepcopy(spec)
    _at(copied, path[:-1])[path[-1]] = value
    return copied


def _removed(spec: Any, path: tuple[Any, ...]) -> Any:
    copied = copy.deepcopy(spec)
    del _at(copied, path[:-1])[path[-1]]
    return copied


def validate_accepts(spec: Any) -> bool:
    """``parse_spec``'s verdict with the cross-field rules (not expressible in a schema) set aside."""
    if not isinstance(spec, dict):
        return False
    try:
        parse_spec(spec)
    except SpecError as exc:
        cross_field = {(format_path(loc), message) for loc, message in cross_field_problems(spec)}
        return all((detail.path, detail.message) in cross_field for detail in exc.errors)
    return True


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with every absent field that has a non-null default filled in with it, so that
    fields added to the spec later are mutated too without being listed here."""
    for branch in branches(schema, value):
        if isinstance(value, dict) and "properties" in branch:
            for key, sub in branch["properties"].items():
                if key not in value and sub.get("default") not in (None, {}, []):
                    value[key] = copy.deepcopy(sub["default"])
                if key in value:
                    value[key] = with_defaults(value[key], sub)
        elif isinstance(value, list) and "items" in branch:
            return [with_defaults(item, branch["items"]) for item in value]
    return value


def seed_specs() -> list[dict[str, Any]]:
    ssml = copy.deepcopy(RICH)
    ssml["timeline"][1]["data"] = {
        "text": "<speak>Hi <break time='300ms'/> there.</speak>",
        "provider": "espeak-ng",
        "providerConfig": {"textType": "ssml", "voiceId": "Matthew", "engine": "generative"},
    }
    example = json.loads((REPO_ROOT / "examples" / "welcome.spec.json").read_text())
    return [with_defaults(spec, SCHEMA) for spec in (copy.deepcopy(RICH), ssml, example)]


def test_seed_specs_are_valid_for_both() -> None:
    for spec in seed_specs():
        assert VALIDATOR.is_valid(spec) and validate_accepts(spec)


def test_validate_and_the_schema_agree_on_every_mutated_spec() -> None:
    cases = [case for spec in seed_specs() for case in invalid_specs(spec, SCHEMA)]
    disagreements = []
    invalid = 0
    for description, spec in cases:
        schema_says = VALIDATOR.is_valid(spec)
        invalid += not schema_says
        if schema_says != validate_accepts(spec):
            disagreements.append(f"{description}: schema {'accepts' if schema_says else 'refuses'}")
    assert invalid >= 500, f"only {invalid} invalid specs generated"
    assert not disagreements, "\n".join(disagreements[:30])
