"""``/batches``: render a template for every row (JSON rows or a CSV body), follow, cancel, retry.

A batch is one request against the key's usage plan, however many rows it has (up to
``AUTOVID_BATCH_MAX_ROWS``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from autovid.entrypoints.api import schemas, templates_routes
from autovid.entrypoints.api.bodies import parse_json_object, read_body
from autovid.entrypoints.api.context import ApiKeyValue, Batches, Context
from autovid.entrypoints.api.errors import json_response
from autovid.errors import BatchNotFoundError, ErrorDetail, SpecError, TemplateNotFoundError
from autovid.jobs.batches import BatchRequest, BatchRowsError, BatchService, DryRun

BatchIdPath = Annotated[
    str, Path(alias="batchId", max_length=100, description="the batchId POST /batches returned")
]
_NOT_FOUND = {404: {"model": schemas.ErrorDoc, "description": "no such batch for this key"}}
_FIELDS = {"templateId", "template", "rows", "dryRun", "notifications"}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "templateId": {"type": "string"},
                        "template": {
                            "type": "object",
                            "description": "a template (docs/template.schema.json)",
                        },
                        "rows": {"type": "array", "items": {"type": "object"}},
                        "dryRun": {"type": "boolean", "default": False},
                        "notifications": {"type": "object"},
                    },
                    "required": ["rows"],
                }
            },
            "text/csv": {"schema": {"type": "string", "description": "header row = variable names"}},
        },
    }
}


def install_batch_routes(app: FastAPI, batches: BatchService | None) -> None:
    """The /templates and /batches routes and their errors; nothing when this deployment has no
    template and batch stores."""
    if batches is None:
        return
    app.state.batches = batches
    app.include_router(templates_routes.router)
    app.include_router(router)
    app.add_exception_handler(TemplateNotFoundError, _template_not_found)
    app.add_exception_handler(BatchNotFoundError, _batch_not_found)
    app.add_exception_handler(BatchRowsError, _bad_rows)


router = APIRouter(tags=["batches"])


@router.post(
    "/batches",
    summary="Render a template for every row",
    status_code=201,
    responses={
        200: {"description": "a dry run: the rows' problems; nothing was stored"},
        201: {"description": "the batch (as GET /batches/{batchId})"},
        400: {"model": schemas.ValidationErrorDoc, "description": "invalid rows: nothing was stored"},
        413: {"model": schemas.ErrorDoc, "description": "body over AUTOVID_BATCH_MAX_BODY_BYTES"},
        **schemas.AUTH_RESPONSES,
    },
    openapi_extra=_BATCH_BODY,
)
async def submit(
    request: Request,
    api_key: ApiKeyValue,
    ctx: Context,
    batches: Batches,
    template_id: Annotated[
        str | None, Query(alias="templateId", max_length=100, description="with a text/csv body")
    ] = None,
    dry_run: Annotated[bool, Query(alias="dryRun", description="with a text/csv body")] = False,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="repeat to get the same batch back")
    ] = None,
) -> Response:
    """JSON `{"templateId" | "template", "rows", "dryRun", "notifications"}`, or a CSV body
    (`Content-Type: text/csv`, `?templateId=`). Every row is checked first: any bad row
    refuses the batch (400, `rows` lists them), and a dry run only reports them."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    body = await read_body(request, limit_bytes=ctx.settings.batch_max_body_bytes)
    batch_request = _batch_request(request, body, template_id, dry_run)
    result = await run_in_threadpool(
        batches.submit, batch_request, owner=owner, idempotency_key=idempotency_key
    )
    if isinstance(result, DryRun):
        return json_response(result.as_document())
    return json_response(await run_in_threadpool(batches.document, result), 201)


@router.get(
    "/batches/{batchId}",
    summary="A batch: counts, progress and a page of rows",
    responses={**_NOT_FOUND, **schemas.AUTH_RESPONSES},
)
def get(
    batch_id: BatchIdPath,
    request: Request,
    api_key: ApiKeyValue,
    ctx: Context,
    batches: Batches,
    limit: Annotated[int, Query(ge=1, le=1000, description="rows per page")] = 100,
    cursor: Annotated[str | None, Query(max_length=20, description="nextCursor of a page")] = None,
) -> Response:
    batch = batches.get(batch_id, owner=ctx.owner(request, api_key))
    return json_response(batches.document(batch, cursor=cursor, limit=limit))


@router.post(
    "/batches/{batchId}/cancel",
    summary="Cancel the batch's rows that have not ended",
    responses={**_NOT_FOUND, **schemas.AUTH_RESPONSES},
)
def cancel(
    batch_id: BatchIdPath, request: Request, api_key: ApiKeyValue, ctx: Context, batches: Batches
) -> Response:
    """Queued rows are cancelled at once; running ones stop at their next checkpoint."""
    batch = batches.cancel(batch_id, owner=ctx.owner(request, api_key))
    return json_response(batches.document(batch))


@router.post(
    "/batches/{batchId}/retry",
    summary="Re-submit the failed rows",
    responses={
        **_NOT_FOUND,
        409: {"model": schemas.ErrorDoc, "description": "no row has failed"},
        **schemas.AUTH_RESPONSES,
    },
)
def retry(
    batch_id: BatchIdPath, request: Request, api_key: ApiKeyValue, ctx: Context, batches: Batches
) -> Response:
    """Each failed row gets a new job with the same spec; the other rows stay as they are."""
    batch = batches.retry(batch_id, owner=ctx.owner(request, api_key))
    return json_response(batches.document(batch))


def _batch_request(request: Request, body: bytes, template_id: str | None, dry_run: bool) -> BatchRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        if not template_id:
            raise SpecError([ErrorDetail("query.templateId", "is required with a text/csv body")])
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError([ErrorDetail("csv", "the CSV must be UTF-8 encoded")]) from None
        return BatchRequest(template_id=template_id, csv_text=text, dry_run=dry_run)
    raw = parse_json_object(body, what="a batch")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        allowed = ", ".join(sorted(_FIELDS))
        raise SpecError(
            [ErrorDetail(name, f"is not a field of a batch; allowed: {allowed}") for name in unknown]
        )
    return BatchRequest(
        template_id=_optional(raw, "templateId", str),
        template=_optional(raw, "template", dict),
        rows=_optional(raw, "rows", list),
        dry_run=bool(_optional(raw, "dryRun", bool)),
        notifications=_optional(raw, "notifications", dict),
    )


def _optional(raw: dict[str, Any], name: str, kind: type) -> Any:
    value = raw.get(name)
    if value is not None and not isinstance(value, kind):
        names = {str: "a string", dict: "an object", list: "an array", bool: "true or false"}
        raise SpecError([ErrorDetail(name, f"must be {names[kind]}")])
    return value


async def _template_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TemplateNotFoundError)
    doc = {"error": "Template not found", "message": exc.message}
    return json_response(doc, 404)


async def _batch_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchNotFoundError)
    return json_response({"error": "Batch not found", "message": exc.message}, 404)


async def _bad_rows(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchRowsError)
    doc = {
        "error": "Validation failed",
        "details": exc.as_list(),
        "rows": [problem.as_dict() for problem in exc.problems],
    }
    return json_response(doc, 400)
