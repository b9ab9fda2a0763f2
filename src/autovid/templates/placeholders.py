"""Finding ``{{placeholders}}`` in a template's spec and checking where they stand."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autovid.errors import ErrorDetail
from autovid.spec.validation import format_path
from autovid.templates.model import PLACEHOLDER, WHOLE_PLACEHOLDER, Variable

Loc = tuple[str | int, ...]


def walk_strings(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string in a JSON value with its location."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, (*loc, index))


def walk_keys(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every object key in a JSON value with the location of its object."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield loc, str(key)
            yield from walk_keys(item, (*loc, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_keys(item, (*loc, index))


def names_in(text: str) -> tuple[str, ...]:
    return tuple(match.group(1) for match in PLACEHOLDER.finditer(text))


def whole_name(text: str) -> str | None:
    """The variable a string is exactly one placeholder of (spaces around it allowed)."""
    match = WHOLE_PLACEHOLDER.fullmatch(text)
    return match.group(1) if match else None


def placeholder_sites(spec: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Spec path -> the variables its string uses (only strings that use any)."""
    return {format_path(loc): names for loc, text in walk_strings(spec) if (names := names_in(text))}


def is_source(loc: Loc) -> bool:
    """Asset sources and the webhook URL: fields a placeholder may only fill whole."""
    return (
        loc[:3] == ("assets", "video", "source")
        or (len(loc) == 4 and loc[:2] == ("assets", "audio") and loc[3] == "source")
        or loc == ("notifications", "webhook", "url")
    )


def placeholder_problems(spec: Mapping[str, Any], variables: Mapping[str, Variable]) -> list[ErrorDetail]:
    """Placeholders that are malformed, undeclared, in keys, or not allowed where they stand."""
    problems: list[ErrorDetail] = []
    declared = ", ".join(sorted(variables)) or "none"
    for loc, key in walk_keys(spec):
        if "{{" in key:
            path = "spec." + format_path((*loc, key)) if loc else f"spec.{key}"
            problems.append(ErrorDetail(path, "placeholders may stand only in values, not in field names"))
    for loc, text in walk_strings(spec):
        path = "spec." + format_path(loc)
        if "{{" in PLACEHOLDER.sub("", text):
            problems.append(
                ErrorDetail(path, "has a '{{' that does not start a placeholder such as {{firstName}}")
            )
        names = names_in(text)
        for name in dict.fromkeys(names):
            if name not in variables:
                message = f"placeholder {{{{{name}}}}} is not a declared variable (declared: {declared})"
                problems.append(ErrorDetail(path, message))
        problems.extend(_placement_problems(loc, path, text, names, variables))
    return problems


def _placement_problems(
    loc: Loc, path: str, text: str, names: tuple[str, ...], variables: Mapping[str, Variable]
) -> list[ErrorDetail]:
    if not names or whole_name(text) is not None:
        return []
    if is_source(loc):
        return [ErrorDetail(path, 'a source or URL is filled whole: exactly "{{name}}", nothing around it')]
    assets = [name for name in names if name in variables and variables[name].type == "asset"]
    if assets:
        return [ErrorDetail(path, f"asset variable '{assets[0]}' must be a whole value, not part of a text")]
    return []
