"""Typed variable values: checking a row's value, a sample of each type, text forms, CSV cells."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

from autovid.templates.model import MAX_VALUE_CHARS, Variable

MAX_SOURCE_CHARS = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})
SAMPLE_ASSET = "https://example.com/sample.mp4"


class ValueProblem(ValueError):
    """Why a value does not fit its variable (the message completes 'variable x ...')."""


def check_value(variable: Variable, value: Any, *, allow_private: bool = False) -> Any:
    """The typed value for ``variable``, or ``ValueProblem``."""
    kind = variable.type
    if kind in ("string", "asset"):
        if not isinstance(value, str):
            expected = "a string" if kind == "string" else "a source (URL, s3:// URI or path)"
            raise ValueProblem(f"must be {expected}; got {_kind(value)}")
        typed: Any = _check_text(variable, value) if kind == "string" else check_source(value, allow_private)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ValueProblem(f"must be true or false; got {_kind(value)}")
        typed = value
    else:
        typed = _check_number(variable, value)
    if variable.enum is not None and typed not in variable.enum:
        allowed = ", ".join(repr(v) for v in variable.enum[:20])
        raise ValueProblem(f"must be one of {allowed}; got {short(typed)}")
    return typed


def _check_text(variable: Variable, value: str) -> str:
    if len(value) > MAX_VALUE_CHARS:
        raise ValueProblem(f"is {len(value)} characters; at most {MAX_VALUE_CHARS} allowed")
    if _CONTROL.search(value):
        raise ValueProblem("contains control characters (only tab and line breaks are allowed)")
    if variable.maxLength is not None and len(value) > variable.maxLength:
        raise ValueProblem(f"is {len(value)} characters; at most {variable.maxLength} allowed")
    if variable.minLength is not None and len(value) < variable.minLength:
        raise ValueProblem(f"is {len(value)} characters; at least {variable.minLength} needed")
    return value


def _check_number(variable: Variable, value: Any) -> int | float:
    kind = variable.type
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"must be {'an integer' if kind == 'integer' else 'a number'}; got {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"must be a finite number; got {value}")
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise ValueProblem(f"must be an integer; got {value}")
        value = int(value)
    if variable.minimum is not None and value < variable.minimum:
        raise ValueProblem(f"must be at least {_number_text(variable.minimum)}; got {_number_text(value)}")
    if variable.maximum is not None and value > variable.maximum:
        raise ValueProblem(f"must be at most {_number_text(variable.maximum)}; got {_number_text(value)}")
    return value


def check_source(value: str, allow_private: bool = False) -> str:
    """An asset source checked as far as it can be without I/O: scheme, shape, literal addresses.

    Host names are resolved and vetted again when the asset is fetched."""
    if not value or len(value) > MAX_SOURCE_CHARS:
        raise ValueProblem(f"must be 1-{MAX_SOURCE_CHARS} characters; got {len(value)}")
    if _CONTROL.search(value) or value != value.strip():
        raise ValueProblem("must not contain control characters or surrounding spaces")
    match = _SCHEME.match(value)
    scheme = match.group(1).lower() if match else None
    if scheme in ("https", "http"):
        _check_url(value, allow_private)
    elif scheme == "s3":
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,62}/.+", value):
            raise ValueProblem("must be an s3://bucket/key URI")
    elif scheme is not None:
        raise ValueProblem(f"uses scheme '{scheme}:'; use https://, s3:// or a path")
    elif value.startswith("/") or "\\" in value or any(s in ("", ".", "..") for s in value.split("/")):
        raise ValueProblem("must be a relative path without '.', '..' or empty segments (or a URL)")
    return value


def _check_url(value: str, allow_private: bool) -> None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueProblem(f"is not a valid URL: {exc}") from None
    if not host:
        raise ValueProblem("is a URL without a host")
    if parts.username is not None or parts.password is not None:
        raise ValueProblem("must not carry credentials (user:password@)")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise ValueProblem(f"points at '{host}'; only public internet addresses are allowed")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise ValueProblem(f"points at {host}, not a public address; only public addresses are allowed")


def sample_value(variable: Variable) -> Any:
    """A valid value of the variable's type, to check a template's spec before any row exists."""
    if variable.default is not None:
        return variable.default
    if variable.enum:
        return variable.enum[0]
    if variable.type == "boolean":
        return True
    if variable.type == "asset":
        return SAMPLE_ASSET
    if variable.type == "string":
        low, high = variable.minLength or 1, variable.maxLength or MAX_VALUE_CHARS
        return ("sample" + "x" * max(0, low - 6))[: max(high, 1)]
    number = variable.minimum if variable.minimum is not None else variable.maximum
    number = 1 if number is None else number
    return math.ceil(number) if variable.type == "integer" else number


def as_text(value: Any) -> str:
    """How a value reads inside a longer string: 3, 0.25, true, the text itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    return str(value)


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def from_cell(variable: Variable, cell: str) -> Any:
    """A CSV cell (already stripped, not empty) as the variable's type; left as text when it does
    not convert, so the row's check names the variable and the value."""
    kind = variable.type
    if kind == "boolean":
        lowered = cell.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else cell
    if kind in ("number", "integer"):
        try:
            return int(cell) if re.fullmatch(r"[+-]?\d+", cell) else float(cell)
        except ValueError:
            return cell
    return cell


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}…{text[-3:]} ({len(str(value))} characters)"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {_number_text(value)}"
    if isinstance(value, str):
        return f"text {short(value)}"
    return {"list": "an array", "dict": "an object"}.get(type(value).__name__, type(value).__name__)
