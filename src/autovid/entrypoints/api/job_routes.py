"""Jobs: submit, status, list, cancel.

Routes that only touch the database are plain ``def`` functions: FastAPI runs them in its thread
pool, so a SQLite call never blocks the event loop, and authentication plus the route's work
cost one thread hop. ``submit`` reads a body, so it is ``async`` and hops to the pool for calls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.bodies import parse_json_object, read_body
from autovid.entrypoints.api.context import ApiKeyValue, Context, JobIdPath
from autovid.entrypoints.api.errors import json_response
from autovid.jobs.model import JobStatus

router = APIRouter(tags=["jobs"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="repeat a request with the same key to get the same job back",
    ),
]


@router.post(
    "/submit",
    summary="Submit a job spec",
    responses={
        200: {"model": schemas.StatusDoc, "description": "the job's status document (submitted)"},
        400: {"model": schemas.ValidationErrorDoc, "description": "invalid spec or malformed JSON"},
        409: {"model": schemas.ErrorDoc, "description": "Idempotency-Key reused with another spec"},
        413: {"model": schemas.ErrorDoc, "description": "body over AUTOVID_MAX_BODY_BYTES"},
        **schemas.AUTH_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}}},
        }
    },
)
async def submit(
    request: Request, ctx: Context, api_key: ApiKeyValue, idempotency_key: IdempotencyKey = None
) -> Response:
    """Validate the spec, store the job and queue it. With an `Idempotency-Key`, a repeated
    request returns the first job instead of creating another."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    raw = parse_json_object(await read_body(request, limit_bytes=ctx.settings.max_body_bytes))
    service = ctx.service
    job = await run_in_threadpool(service.submit, raw, owner=owner, idempotency_key=idempotency_key)
    return json_response(service.status_document(job))


@router.get(
    "/status/{jobId}",
    summary="A job's status",
    responses={
        200: {"model": schemas.StatusDoc},
        404: {"model": schemas.NotFoundDoc, "description": "no such job for this key"},
        **schemas.AUTH_RESPONSES,
    },
)
def status(job_id: JobIdPath, request: Request, ctx: Context, api_key: ApiKeyValue) -> Response:
    """The status document: status, progress, the webhook's delivery and, once completed, a
    signed output URL."""
    job = ctx.service.get(job_id, owner=ctx.owner(request, api_key))
    return json_response(ctx.service.status_document(job))


@router.get(
    "/jobs",
    summary="List your jobs, newest first",
    responses={200: {"model": schemas.JobListDoc}, **schemas.AUTH_RESPONSES},
)
def list_jobs(
    request: Request,
    ctx: Context,
    api_key: ApiKeyValue,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
    cursor: Annotated[str | None, Query(max_length=512, description="nextCursor of a page")] = None,
) -> Response:
    owner = ctx.owner(request, api_key)
    service = ctx.service
    jobs, next_cursor = service.list(owner=owner, status=status, limit=limit, cursor=cursor)
    return json_response({"jobs": [service.status_document(j) for j in jobs], "nextCursor": next_cursor})


@router.post(
    "/jobs/{jobId}/cancel",
    summary="Cancel a job",
    responses={
        200: {"model": schemas.StatusDoc},
        404: {"model": schemas.NotFoundDoc},
        409: {"model": schemas.ErrorDoc, "description": "the job already completed or failed"},
        **schemas.AUTH_RESPONSES,
    },
)
def cancel(job_id: JobIdPath, request: Request, ctx: Context, api_key: ApiKeyValue) -> Response:
    """A queued job is cancelled at once and never renders. A running job is asked to stop:
    it reads `processing` until its worker stops it moments later, then `cancelled`."""
    job = ctx.service.cancel(job_id, owner=ctx.owner(request, api_key))
    return json_response(ctx.service.status_document(job))
