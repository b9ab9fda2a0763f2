"""No secrets in logs: every log record, ours or a library's (httpx, uvicorn's access log, boto),
has URL userinfo and query values replaced by ``***`` before any handler sees it.

Webhook URLs carry tokens in their query or userinfo, pre-signed asset URLs carry signatures, and
``/files/…`` links carry theirs; httpx logs each request's full URL at INFO and uvicorn logs each
request's path and query. ``install_log_redaction()`` wraps the log record factory, so it covers
loggers with their own handlers too (uvicorn's do not propagate to the root). Entrypoints call it
before they log anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "***"
# scheme://user:password@host -> scheme://***@host (userinfo ends at the first '@' of the
# authority: no '/', whitespace, quotes or another '@' before it)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"<>]+@")
# ?name=value&other=value -> ?name=***&other=*** (names stay: they say what was there)
_QUERY_VALUE = re.compile(r"(?P<name>[?&;][^=&;#\s'\"<>?]+=)[^&;#\s'\"<>]+")

_installed = False


def redact(text: str) -> str:
    """``text`` with URL userinfo and query-string values masked."""
    if "@" in text:
        text = _USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    if "=" in text:
        text = _QUERY_VALUE.sub(rf"\g<name>{MASK}", text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, arguments, exception text and stack."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when it is set, so the traceback they print is this one.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value  # numbers keep their type for %d / %.1f
    if isinstance(value, str):
        return redact(value)
    try:
        text = str(value)  # e.g. an httpx.URL
    except Exception:
        return value
    redacted = redact(text)
    return value if redacted == text else redacted


def install_log_redaction() -> None:
    """Make every log record created from now on in this process redacted (idempotent)."""
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_logging(level: str) -> None:
    """The service's log format on stderr, redacted."""
    install_log_redaction()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
