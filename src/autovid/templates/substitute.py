"""Filling a template's spec with one row's values, and checking the rows of a batch.

Values are data, never template syntax: each placeholder of the template is replaced once, and
whatever a value holds (``{{other}}``, ``</speak>``, quotes) is inserted as text. Inside SSML
text a value is XML-escaped, so it is spoken, not parsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from autovid.errors import ErrorDetail, SpecError
from autovid.spec.models import JobSpec, SpecLimits
from autovid.spec.validation import parse_spec
from autovid.templates.model import PLACEHOLDER, RowError, RowErrorDetail, RowOutcome, Template
from autovid.templates.placeholders import Loc, placeholder_sites, whole_name
from autovid.templates.values import ValueProblem, as_text, check_value, short

_XML_QUOTES = {'"': "&quot;", "'": "&apos;"}
MAX_UNKNOWN_LISTED = 10


def short_name(name: str) -> str:
    return name if len(name) <= 64 else name[:60] + "…"


def substitute(
    template: Template,
    row: Mapping[str, Any],
    *,
    row_index: int | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """The raw (JSON) spec for one row; ``RowError`` names the row and each variable at fault."""
    values = row_values(template, row, row_index=row_index, allow_private=allow_private)
    return fill(template.spec, values, template.placeholder_sites())


def row_values(
    template: Template,
    row: Mapping[str, Any],
    *,
    row_index: int | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """Every variable's typed value for ``row`` (defaults where the row leaves one out; a null is
    left out)."""
    if not isinstance(row, Mapping):
        detail = RowErrorDetail("$", "a row must be an object of variable values", row_index)
        raise RowError(row_index, [detail])
    problems: list[ErrorDetail] = []
    declared = ", ".join(sorted(template.variables)) or "none"
    unknown = [str(name) for name in row if name not in template.variables]
    for name in unknown[:MAX_UNKNOWN_LISTED]:
        message = f"is not a variable of template '{template.name}'; its variables: {declared}"
        problems.append(RowErrorDetail(f"variables.{short_name(name)}", message, row_index, short_name(name)))
    if len(unknown) > MAX_UNKNOWN_LISTED:
        message = f"{len(unknown) - MAX_UNKNOWN_LISTED} more values are not variables of the template"
        problems.append(RowErrorDetail("variables", message, row_index))
    values: dict[str, Any] = {}
    for name, variable in template.variables.items():
        value = row.get(name)
        if value is None:
            if variable.is_required:
                problems.append(RowErrorDetail(f"variables.{name}", "is required", row_index, name))
            values[name] = variable.default
            continue
        try:
            values[name] = check_value(variable, value, allow_private=allow_private)
        except ValueProblem as exc:
            problems.append(RowErrorDetail(f"variables.{name}", str(exc), row_index, name))
    if problems:
        raise RowError(row_index, problems)
    return values


def fill(
    spec: Mapping[str, Any], values: Mapping[str, Any], sites: Mapping[str, tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """``spec`` with every placeholder replaced by its value (values already checked); ``sites``
    are the spec's placeholder sites when already known."""
    sites = placeholder_sites(spec) if sites is None else sites
    unknown = sorted({n for names in sites.values() for n in names} - set(values))
    if unknown:  # parse_template refuses these; a template built some other way may hold them
        raise SpecError([ErrorDetail("spec", f"placeholder {{{{{unknown[0]}}}}} is not a declared variable")])
    ssml = _ssml_texts(spec, values)
    filled = _fill(spec, (), values, ssml)
    assert isinstance(filled, dict)
    return filled


def _fill(node: Any, loc: Loc, values: Mapping[str, Any], ssml: set[Loc]) -> Any:
    if isinstance(node, dict):  # JSON: plain dicts and lists (faster than the Mapping ABC check)
        return {key: _fill(item, (*loc, key), values, ssml) for key, item in node.items()}
    if isinstance(node, list):
        return [_fill(item, (*loc, index), values, ssml) for index, item in enumerate(node)]
    if not isinstance(node, str) or "{{" not in node:
        return node
    in_ssml = loc in ssml
    name = whole_name(node)
    if name is not None:
        value = values[name]
        return _xml(value) if in_ssml and isinstance(value, str) else value

    def replace(match: Any) -> str:
        text = as_text(values[match.group(1)])
        return _xml(text) if in_ssml else text

    return PLACEHOLDER.sub(replace, node)


def _xml(text: str) -> str:
    return escape(text, _XML_QUOTES)


def _ssml_texts(spec: Mapping[str, Any], values: Mapping[str, Any]) -> set[Loc]:
    """Locations of TTS texts that are SSML (the text type may itself be a variable)."""
    found: set[Loc] = set()
    timeline = spec.get("timeline")
    for index, event in enumerate(timeline if isinstance(timeline, list) else []):
        data = event.get("data") if isinstance(event, Mapping) else None
        config = data.get("providerConfig") if isinstance(data, Mapping) else None
        text_type = config.get("textType") if isinstance(config, Mapping) else None
        if isinstance(text_type, str) and "{{" in text_type:
            text_type = _fill(text_type, (), values, set())
        if text_type == "ssml":
            found.add(("timeline", index, "data", "text"))
    return found


def validate_row(
    template: Template,
    row: Mapping[str, Any],
    *,
    row_index: int | None = None,
    limits: SpecLimits | None = None,
    allow_private: bool = False,
) -> tuple[dict[str, Any], JobSpec]:
    """Substitute and validate one row: its raw spec and the parsed ``JobSpec``, or ``RowError``."""
    values = row_values(template, row, row_index=row_index, allow_private=allow_private)
    raw = fill(template.spec, values, template.placeholder_sites())
    try:
        return raw, parse_spec(raw, limits)
    except SpecError as exc:
        raise RowError(row_index, spec_problems(template, exc.errors, values, row_index)) from None


def spec_problems(
    template: Template, errors: Sequence[ErrorDetail], values: Mapping[str, Any], row_index: int | None
) -> list[ErrorDetail]:
    """A filled spec's errors as ``spec.<path>`` details naming the variable(s) behind each."""
    sites = template.placeholder_sites()
    details: list[ErrorDetail] = []
    for error in errors:
        names = variables_at(error.path, sites)
        message = error.message
        if names:
            shown = ", ".join(f"{{{{{n}}}}} = {short(values.get(n))}" for n in names)
            message = f"{message} (from {shown})"
        variable = ", ".join(names) or None
        details.append(RowErrorDetail(f"spec.{error.path}", message, row_index, variable))
    return details


def variables_at(path: str, sites: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The variables that fill ``path``, or the fields under it (an error on an object)."""
    if path in sites:
        return tuple(dict.fromkeys(sites[path]))
    if path == "$":
        return ()
    inner = [n for site, names in sites.items() if site.startswith((path + ".", path + "[")) for n in names]
    return tuple(dict.fromkeys(inner))


def expand_rows(
    template: Template,
    rows: Sequence[Mapping[str, Any]],
    *,
    limits: SpecLimits | None = None,
    allow_private: bool = False,
) -> list[RowOutcome]:
    """Every row substituted and validated; two rows may not write the same output file."""
    outcomes: list[RowOutcome] = []
    owner: dict[str, int] = {}
    filename_vars = ", ".join(dict.fromkeys(template.placeholder_sites().get("output.filename", ()))) or None
    for index, row in enumerate(rows):
        try:
            raw, spec = validate_row(
                template, row, row_index=index, limits=limits, allow_private=allow_private
            )
        except RowError as exc:
            outcomes.append(RowOutcome(index, None, list(exc.errors)))
            continue
        filename = spec.output.filename
        first = owner.setdefault(filename.casefold(), index)
        if first != index:
            message = f"'{filename}' is also row {first}'s output; every row needs its own file name"
            detail = RowErrorDetail("spec.output.filename", message, index, filename_vars)
            outcomes.append(RowOutcome(index, None, [detail]))
            continue
        outcomes.append(RowOutcome(index, raw, filename=filename))
    return outcomes
