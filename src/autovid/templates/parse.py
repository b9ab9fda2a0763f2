"""``parse_template``: a template document checked before any row is rendered."""

from __future__ import annotations

import re
from typing import Any

from autovid.errors import ErrorDetail, SpecError
from autovid.spec.models import SpecLimits
from autovid.spec.validation import parse_spec
from autovid.templates.model import (
    VARIABLE_NAME_PATTERN,
    Template,
    TemplateError,
    Variable,
    load_template_document,
)
from autovid.templates.placeholders import placeholder_problems
from autovid.templates.substitute import fill, variables_at
from autovid.templates.values import ValueProblem, check_value, sample_value, short


def parse_template(raw: bytes | str | dict[str, Any], limits: SpecLimits | None = None) -> Template:
    """Validate a template: its variables, every placeholder, and its spec filled with each
    variable's default (or a sample of its type). ``SpecError`` paths are ``variables.<name>…``
    and ``spec.<path>``."""
    template = load_template_document(raw)
    problems: list[ErrorDetail] = []
    for name, variable in template.variables.items():
        problems.extend(variable_problems(name, variable))
    problems.extend(placeholder_problems(template.spec, template.variables))
    if problems:
        raise TemplateError(problems)
    samples = {name: sample_value(variable) for name, variable in template.variables.items()}
    try:
        parse_spec(fill(template.spec, samples), limits)
    except SpecError as exc:
        raise TemplateError(_sample_problems(template, exc.errors, samples)) from None
    return template


def variable_problems(name: str, variable: Variable) -> list[ErrorDetail]:
    """What is inconsistent in one variable's declaration."""
    path = f"variables.{name}"
    if not re.fullmatch(VARIABLE_NAME_PATTERN, name):
        return [ErrorDetail(path, "a name is 1-64 letters, digits or '_', not starting with a digit")]
    problems = _constraint_problems(path, variable)
    if variable.required is True and variable.default is not None:
        problems.append(ErrorDetail(f"{path}.default", "a required variable has no default: drop one"))
    if variable.required is False and variable.default is None:
        message = 'an optional variable needs a default (or "required": true)'
        problems.append(ErrorDetail(f"{path}.default", message))
    if problems:
        return problems
    unconstrained = variable.model_copy(update={"enum": None})
    for index, option in enumerate(variable.enum or []):
        try:
            check_value(unconstrained, option)
        except ValueProblem as exc:
            problems.append(ErrorDetail(f"{path}.enum[{index}]", str(exc)))
    if variable.default is not None:
        try:
            check_value(variable, variable.default)
        except ValueProblem as exc:
            problems.append(ErrorDetail(f"{path}.default", str(exc)))
    return problems


def _constraint_problems(path: str, variable: Variable) -> list[ErrorDetail]:
    kind = variable.type
    problems: list[ErrorDetail] = []
    for field in ("minLength", "maxLength"):
        if getattr(variable, field) is not None and kind != "string":
            problems.append(ErrorDetail(f"{path}.{field}", f"applies to string variables, not {kind}"))
    for field in ("minimum", "maximum"):
        if getattr(variable, field) is not None and kind not in ("number", "integer"):
            problems.append(ErrorDetail(f"{path}.{field}", f"applies to number and integer, not {kind}"))
    if variable.enum is not None and kind in ("boolean", "asset"):
        problems.append(ErrorDetail(f"{path}.enum", f"applies to string, number and integer, not {kind}"))
    low, high = variable.minLength, variable.maxLength
    if low is not None and high is not None and low > high:
        problems.append(ErrorDetail(f"{path}.minLength", f"is more than maxLength ({high})"))
    lowest, highest = variable.minimum, variable.maximum
    if lowest is not None and highest is not None and lowest > highest:
        problems.append(ErrorDetail(f"{path}.minimum", f"is more than maximum ({highest})"))
    return problems


def _sample_problems(
    template: Template, errors: list[ErrorDetail], samples: dict[str, Any]
) -> list[ErrorDetail]:
    sites = template.placeholder_sites()
    details = []
    for error in errors:
        names = variables_at(error.path, sites)
        message = error.message
        if names:
            shown = ", ".join(f"{{{{{n}}}}} = {short(samples[n])}" for n in names)
            hint = (
                ""
                if all(template.variables[n].default is not None for n in names)
                else ("; give the variable a default or an enum that makes a valid spec")
            )
            message = f"{message} (with {shown}{hint})"
        details.append(ErrorDetail(f"spec.{error.path}", message))
    return details
