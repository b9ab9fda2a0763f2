"""Log redaction: URL userinfo and query values never survive into a formatted log line."""

from __future__ import annotations

import logging
import sys

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from autovid.logsafe import redact, redact_record


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'HTTP Request: POST https://bob:hunter2@hooks.example.com/x?token=abc&n=2 "HTTP/1.1 200 OK"',
            'HTTP Request: POST https://***@hooks.example.com/x?token=***&n=*** "HTTP/1.1 200 OK"',
        ),
        (
            "GET /files/outputs/j/v.mp4?expires=1&signature=f00d",
            "GET /files/outputs/j/v.mp4?expires=***&signature=***",
        ),
        (
            "s3 https://b.s3.amazonaws.com/k?X-Amz-Signature=9a9a;x=1",
            "s3 https://b.s3.amazonaws.com/k?X-Amz-Signature=***;x=***",
        ),
        ("job 1 failed: must be <= 86400 (a=b)", "job 1 failed: must be <= 86400 (a=b)"),
        ("contact ops@example.com", "contact ops@example.com"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def record(msg: str, args: tuple[object, ...], exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_arguments_are_redacted_and_numbers_keep_their_type() -> None:
    url = httpx.URL("https://user:pw@example.com/hook?token=secret")
    entry = record('HTTP Request: %s %s "%s %d %s"', ("POST", url, "HTTP/1.1", 200, "OK"))

    redact_record(entry)

    assert entry.getMessage() == 'HTTP Request: POST https://***@example.com/hook?token=*** "HTTP/1.1 200 OK"'


def test_uvicorn_access_lines_are_redacted() -> None:
    entry = record(
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", "/files/a.mp4?signature=s3cr3t", "1.1", 200)
    )
    redact_record(entry)

    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s", use_colors=False).format(entry)

    assert "s3cr3t" not in line and "/files/a.mp4?signature=***" in line


def test_tracebacks_are_redacted() -> None:
    try:
        raise RuntimeError("could not reach https://me:pw@h.example/x?key=k3y")
    except RuntimeError:
        entry = record("failed", (), sys.exc_info())
    redact_record(entry)

    line = logging.Formatter("%(message)s").format(entry)

    assert "pw@" not in line and "k3y" not in line and "https://***@h.example/x?key=***" in line
