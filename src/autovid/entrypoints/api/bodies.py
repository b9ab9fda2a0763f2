"""Request bodies with a size cap: read the declared length first, then count what really comes.

A body over the cap gets 413. Up to ``DRAIN_BYTES`` past the cap are read and dropped before
answering, so the client, still sending, reads our 413 instead of a connection reset.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request

from autovid.errors import AutovidError, ErrorDetail, SpecError

DRAIN_BYTES = 16 * 1024 * 1024
# Far deeper than any job spec; deep enough nesting would exhaust the stack of later steps.
MAX_JSON_DEPTH = 64
NOT_FINITE = "must be a finite number (NaN and Infinity are not JSON numbers)"  # as spec validation
_WRITE_CHUNK_BYTES = 1024 * 1024


class PayloadTooLargeError(AutovidError):
    """The request body is over the route's size cap (413)."""

    def __init__(self, what: str, limit_bytes: int) -> None:
        super().__init__(f"{what} is larger than the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


async def read_body(request: Request, *, limit_bytes: int, what: str = "the request body") -> bytes:
    """The whole body; ``PayloadTooLargeError`` over ``limit_bytes``."""
    chunks: list[bytes] = []
    await _receive(request, limit_bytes, what, chunks.append)
    return b"".join(chunks)


async def receive_to_file(
    request: Request, path: Path, *, limit_bytes: int, what: str = "the upload"
) -> tuple[int, str]:
    """Stream the body into ``path``; returns (size in bytes, SHA-256 hex)."""
    digest = hashlib.sha256()
    pending: list[bytes] = []
    pending_bytes = 0
    with path.open("wb") as out:

        def take(chunk: bytes) -> None:
            nonlocal pending_bytes
            digest.update(chunk)
            pending.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= _WRITE_CHUNK_BYTES:  # fewer, larger writes
                out.write(b"".join(pending))
                pending.clear()
                pending_bytes = 0

        size = await _receive(request, limit_bytes, what, take)
        out.write(b"".join(pending))
    return size, digest.hexdigest()


async def _receive(request: Request, limit_bytes: int, what: str, take: Any) -> int:
    """Read the body straight from the ASGI channel (``request.stream()`` cannot say whether the
    last chunk was the end, which draining needs)."""
    declared = declared_length(request)
    if declared is not None and declared > limit_bytes:
        if declared <= limit_bytes + DRAIN_BYTES:
            await _drain(request, limit_bytes + DRAIN_BYTES)
        raise PayloadTooLargeError(what, limit_bytes)
    size = 0
    while True:
        chunk, more = await _next_chunk(request)
        size += len(chunk)
        if size > limit_bytes:
            if more:
                await _drain(request, limit_bytes + DRAIN_BYTES - size)
            raise PayloadTooLargeError(what, limit_bytes)
        if chunk:
            take(chunk)
        if not more:
            return size


async def _next_chunk(request: Request) -> tuple[bytes, bool]:
    message = await request.receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    return message.get("body", b""), bool(message.get("more_body", False))


async def _drain(request: Request, max_bytes: int) -> None:
    size = 0
    more = True
    while more and size <= max_bytes:
        chunk, more = await _next_chunk(request)
        size += len(chunk)


def declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise SpecError([ErrorDetail("Content-Length", "must be a whole number of bytes")]) from None
    if value < 0:
        raise SpecError([ErrorDetail("Content-Length", "must not be negative")])
    return value


def parse_json_object(body: bytes, *, what: str = "a job spec") -> dict[str, Any]:
    """Decode a JSON object, or a ``SpecError`` that says what is wrong and where."""
    if not body.strip():
        raise SpecError([ErrorDetail("$", f"the request body is empty; send {what} as a JSON object")])
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError([ErrorDetail("$", "the request body must be UTF-8 encoded JSON")]) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            [ErrorDetail("$", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        ) from None
    except RecursionError:
        raise SpecError([_too_deep()]) from None
    except ValueError:  # Python's limit on digits in an integer (int_max_str_digits)
        raise SpecError(
            [ErrorDetail("$", f"a number has more than {sys.get_int_max_str_digits()} digits")]
        ) from None
    if not isinstance(value, dict):
        raise SpecError([ErrorDetail("$", f"{what} must be a JSON object, not {_json_type(value)}")])
    check_json_values(value)
    return value


def check_json_values(value: Any) -> None:
    """Refuse what JSON cannot carry but Python's decoder lets through: ``NaN``, ``Infinity`` and
    numbers too large for a float (they decode to infinity), each named by its path; and nesting
    deeper than ``MAX_JSON_DEPTH`` (later recursive steps would run out of stack)."""
    pending: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while pending:
        item, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise SpecError([_too_deep()])
        if isinstance(item, float) and not math.isfinite(item):
            raise SpecError([ErrorDetail(_field(path), NOT_FINITE)])
        if isinstance(item, dict):
            pending += [(v, f"{path}.{k}", depth + 1) for k, v in item.items()]
        elif isinstance(item, list):
            pending += [(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item)]


def _field(path: str) -> str:
    # "$.timeline[0].data" -> "timeline[0].data", the form spec errors use.
    return path[2:] if path.startswith("$.") else path


def _too_deep() -> ErrorDetail:
    return ErrorDetail("$", f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
