"""Every error the API answers with, mapped in one place (docs/API.md).

403 ``{"message": "Forbidden"}`` and 429 ``{"message": "Too Many Requests"}`` are API Gateway's
bodies, so a client sees the same answers embedded and on AWS. Our own errors carry ``error`` and,
where useful, ``message`` or ``details``. A 500 says nothing about internals; its ``requestId``
finds the traceback in the log.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autovid.auth.keys import ForbiddenError, RateLimitedError
from autovid.auth.plans import retry_after_header
from autovid.entrypoints.api.bodies import PayloadTooLargeError
from autovid.errors import ConflictError, JobNotFoundError, RetryableError, SpecError
from autovid.spec.validation import problem_details

log = logging.getLogger("autovid.api")

RETRY_AFTER_UNAVAILABLE_S = 1


def json_response(doc: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SpecError, _spec_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(JobNotFoundError, _job_not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(RateLimitedError, _rate_limited)
    app.add_exception_handler(PayloadTooLargeError, _too_large)
    app.add_exception_handler(RetryableError, _unavailable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(InternalErrorMiddleware)


class InternalErrorMiddleware:
    """Answers any other exception with a 500 and logs it under a request id. Unlike an
    ``Exception`` handler (Starlette re-raises after answering, and the server then drops the
    connection, sometimes before the client has read the 500), this one ends the request here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:
            response = _internal_error(Request(scope), exc)
            if started:  # too late for a 500: the status line is out; the server closes it
                raise
            await response(scope, receive, send)


async def _spec_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SpecError)
    return json_response({"error": "Validation failed", "details": exc.as_list()}, 400)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The spec's wording ("must be a whole number, not ...") and paths ("query.limit"): one
    # formatter for every 400, from the API and the command line alike.
    details = [detail.as_dict() for detail in problem_details(exc.errors())]
    return json_response({"error": "Validation failed", "details": details}, 400)


async def _job_not_found(request: Request, exc: Exception) -> Response:
    job_id = request.path_params.get("jobId")
    return json_response({"error": "Job not found", "jobId": job_id}, 404)


async def _conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConflictError)
    return json_response({"error": "Conflict", "message": exc.message}, 409)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return json_response({"message": "Forbidden"}, 403)


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitedError)
    headers = {"Retry-After": retry_after_header(exc.retry_after_s)}
    return json_response({"message": "Too Many Requests"}, 429, headers)


async def _too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PayloadTooLargeError)
    body = {"error": "Payload too large", "message": exc.message, "limit": exc.limit_bytes}
    return json_response(body, 413, {"Connection": "close"})


async def _unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RetryableError)
    log.warning("%s %s: temporarily unavailable: %s", request.method, request.url.path, exc.message)
    headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)}
    return json_response({"error": "Service unavailable", "message": "try again shortly"}, 503, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    names = {404: "Not found", 405: "Method not allowed"}
    body = {"error": names.get(exc.status_code, str(exc.detail))}
    return json_response(body, exc.status_code, dict(exc.headers or {}))


def _internal_error(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex
    log.error(
        "request %s: %s %s failed",
        request_id,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return json_response({"error": "Internal server error", "requestId": request_id}, 500)
