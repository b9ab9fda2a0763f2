"""The template document: a job spec with typed ``{{variables}}``, and the errors it reports.

A template is ``{"name", "variables": {name: Variable}, "spec": {…}}``. Any string in ``spec``
may hold ``{{name}}`` placeholders of declared variables; a string that is exactly one
placeholder takes the variable's typed value (a number stays a number). ``parse_template``
checks the document, every placeholder, and that the spec is valid once filled with each
variable's default (or a sample value of its type).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from autovid.errors import ErrorDetail, SpecError

VariableType = Literal["string", "number", "integer", "boolean", "asset"]
VARIABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
TEMPLATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
MAX_VARIABLES = 200
MAX_VALUE_CHARS = 100_000  # a TTS text's own limit: no longer value can make a valid spec
MAX_SPEC_DEPTH = 32  # a job spec nests 6 levels deep; far deeper is a hostile document

# ``{{ name }}`` (spaces allowed inside the braces); anything else that opens ``{{`` is malformed.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
WHOLE_PLACEHOLDER = re.compile(r"\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Variable(_Model):
    """One typed input of a template."""

    type: VariableType = Field(
        description="string, number, integer, boolean, or asset (a source: URL, s3:// URI or path/key)"
    )
    required: bool | None = Field(
        default=None,
        description="whether every row must give a value; default: true when there is no default",
    )
    default: Any = Field(default=None, description="the value a row that leaves the variable out gets")
    minLength: Annotated[int, Field(ge=0, le=MAX_VALUE_CHARS)] | None = None
    maxLength: Annotated[int, Field(ge=1, le=MAX_VALUE_CHARS)] | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: Annotated[list[str | int | float], Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="the only values allowed"
    )
    description: Annotated[str, Field(max_length=1000)] | None = None

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None


class Template(_Model):
    """A named job spec with typed variables."""

    # Frozen: the placeholder sites are found once, when the document is read.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    schema_: str | None = Field(default=None, alias="$schema")
    name: Annotated[str, Field(pattern=TEMPLATE_NAME_PATTERN)]
    description: Annotated[str, Field(max_length=1000)] | None = None
    variables: Annotated[dict[str, Variable], Field(max_length=MAX_VARIABLES)] = {}
    spec: dict[str, Any] = Field(
        description="a job spec (see spec.schema.json) whose string values may hold {{variable}} "
        'placeholders; a value that is exactly "{{name}}" takes the variable\'s typed value'
    )
    _sites: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        from autovid.templates.placeholders import placeholder_sites

        self._sites = placeholder_sites(self.spec)

    def placeholder_sites(self) -> dict[str, tuple[str, ...]]:
        """Spec path (``timeline[0].data.text``) -> the variables its string uses, in order."""
        return self._sites


@dataclass(frozen=True)
class RowErrorDetail(ErrorDetail):
    """A problem of one row: ``path`` is ``variables.<name>`` or ``spec.<path>``."""

    row: int | None = None
    variable: str | None = None

    def as_dict(self) -> dict[str, Any]:  # type: ignore[override]
        data: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.row is not None:
            data["row"] = self.row
        if self.variable is not None:
            data["variable"] = self.variable
        return data


class TemplateError(SpecError):
    """The template document itself is invalid (its variables, placeholders or spec)."""

    def __init__(self, errors: list[ErrorDetail]) -> None:
        super().__init__(errors)
        self.message = "invalid template: " + self.message.removeprefix("invalid job spec: ")
        self.args = (self.message,)


class RowError(SpecError):
    """One row of a batch (or one render's variables) cannot make a valid spec."""

    def __init__(self, row: int | None, errors: list[ErrorDetail]) -> None:
        super().__init__(errors)
        self.row = row
        where = "variables" if row is None else f"row {row}"
        summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        self.message = f"{where}: {summary}{more}"
        self.args = (self.message,)


@dataclass
class RowOutcome:
    """One row expanded: its raw spec when valid, else its errors (never both)."""

    row: int
    spec: dict[str, Any] | None
    errors: list[ErrorDetail] = field(default_factory=list)
    filename: str | None = None  # the output file name as the spec makes it (``.mp4`` added)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors


def load_template_document(raw: bytes | str | dict[str, Any]) -> Template:
    """JSON (or a decoded object) -> ``Template``, with the document's own errors located."""
    from autovid.spec.validation import format_path

    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TemplateError([ErrorDetail("$", f"not valid JSON: {exc}")]) from None
        except RecursionError:
            raise TemplateError(
                [ErrorDetail("$", f"is nested more than {MAX_SPEC_DEPTH} levels deep")]
            ) from None
    if not isinstance(raw, dict):
        raise TemplateError([ErrorDetail("$", "a template must be a JSON object")])
    if _depth(raw) > MAX_SPEC_DEPTH:
        raise TemplateError([ErrorDetail("$", f"is nested more than {MAX_SPEC_DEPTH} levels deep")])
    try:
        return Template.model_validate(raw)
    except ValidationError as exc:
        details = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            message = {"missing": "is required", "extra_forbidden": "is not a known field"}.get(
                error["type"], message
            )
            details.append(ErrorDetail(format_path(tuple(error["loc"])), message))
        raise TemplateError(details) from None


def _depth(value: Any) -> int:
    """How deeply a JSON value nests, found without recursion (which a hostile document would
    exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_SPEC_DEPTH:
                stack.extend(
                    (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
                )
    return deepest


def template_json_schema() -> dict[str, Any]:
    """The template document's JSON Schema (``docs/template.schema.json``)."""
    document = Template.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "autovid template"
    return document
