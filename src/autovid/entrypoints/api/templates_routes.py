"""``/templates``: store, read, version and delete templates, and render one set of variables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.bodies import parse_json_object, read_body
from autovid.entrypoints.api.context import ApiContext, ApiKeyValue, Batches, Context
from autovid.entrypoints.api.errors import json_response
from autovid.errors import ErrorDetail, SpecError

TemplateIdPath = Annotated[
    str, Path(alias="templateId", max_length=100, description="the templateId POST /templates returned")
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="repeat a request with the same key to get the same result"),
]
_NOT_FOUND = {404: {"model": schemas.ErrorDoc, "description": "no such template for this key"}}
_TEMPLATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "a template (docs/template.schema.json)"}
            }
        },
    }
}


_RENDER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"variables": {"type": "object", "description": "name -> value"}},
                    "required": ["variables"],
                    "additionalProperties": False,
                }
            }
        },
    }
}


router = APIRouter(tags=["templates"])


async def read_template(request: Request, ctx: ApiContext) -> dict[str, Any]:
    body = await read_body(request, limit_bytes=ctx.settings.max_body_bytes)
    return parse_json_object(body, what="a template")


@router.post(
    "/templates",
    summary="Store a template",
    status_code=201,
    responses={400: {"model": schemas.ValidationErrorDoc}, **schemas.AUTH_RESPONSES},
    openapi_extra=_TEMPLATE_BODY,
)
async def create(request: Request, api_key: ApiKeyValue, ctx: Context, batches: Batches) -> Response:
    """Check the template in full (variables, placeholders, the spec filled with defaults)
    and store it as version 1."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    document = await read_template(request, ctx)
    stored = await run_in_threadpool(batches.templates.create, document, owner=owner)
    return json_response(stored.as_document(), 201)


@router.get("/templates", summary="List your templates", responses=schemas.AUTH_RESPONSES)
def list_templates(
    request: Request,
    api_key: ApiKeyValue,
    ctx: Context,
    batches: Batches,
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="nextCursor of a page")] = None,
) -> Response:
    owner = ctx.owner(request, api_key)
    found, next_cursor = batches.templates.list(owner=owner, limit=limit, cursor=cursor)
    return json_response({"templates": [t.as_document() for t in found], "nextCursor": next_cursor})


@router.get(
    "/templates/{templateId}",
    summary="A template (its latest version, or ?version=)",
    responses={**_NOT_FOUND, **schemas.AUTH_RESPONSES},
)
def get(
    template_id: TemplateIdPath,
    request: Request,
    api_key: ApiKeyValue,
    ctx: Context,
    batches: Batches,
    version: Annotated[int | None, Query(ge=1, description="an earlier version")] = None,
) -> Response:
    stored = batches.templates.get(template_id, owner=ctx.owner(request, api_key), version=version)
    return json_response(stored.as_document())


@router.put(
    "/templates/{templateId}",
    summary="Store a new version",
    responses={400: {"model": schemas.ValidationErrorDoc}, **_NOT_FOUND, **schemas.AUTH_RESPONSES},
    openapi_extra=_TEMPLATE_BODY,
)
async def replace(
    template_id: TemplateIdPath, request: Request, api_key: ApiKeyValue, ctx: Context, batches: Batches
) -> Response:
    """The template's next version. Batches already submitted keep the version they used."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    document = await read_template(request, ctx)
    stored = await run_in_threadpool(batches.templates.replace, template_id, document, owner=owner)
    return json_response(stored.as_document())


@router.delete(
    "/templates/{templateId}",
    summary="Delete a template",
    status_code=204,
    responses={**_NOT_FOUND, **schemas.AUTH_RESPONSES},
)
def delete(
    template_id: TemplateIdPath, request: Request, api_key: ApiKeyValue, ctx: Context, batches: Batches
) -> Response:
    batches.templates.delete(template_id, owner=ctx.owner(request, api_key))
    return Response(status_code=204)


@router.post(
    "/templates/{templateId}/render",
    summary="Render the template for one set of variables",
    responses={
        200: {"model": schemas.StatusDoc, "description": "the job's status document, as /submit"},
        400: {"model": schemas.ValidationErrorDoc, "description": "a variable is missing or invalid"},
        **_NOT_FOUND,
        **schemas.AUTH_RESPONSES,
    },
    openapi_extra=_RENDER_BODY,
)
async def render(
    template_id: TemplateIdPath,
    request: Request,
    api_key: ApiKeyValue,
    ctx: Context,
    batches: Batches,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Body `{"variables": {...}}`. Each problem names the variable and, for a value that
    makes the spec invalid, the spec path."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    body = parse_json_object(await read_body(request, limit_bytes=ctx.settings.max_body_bytes))
    variables = body.get("variables", {})
    if not isinstance(variables, dict) or set(body) - {"variables"}:
        raise SpecError([ErrorDetail("$", 'send {"variables": {"name": value, …}}')])
    job = await run_in_threadpool(
        batches.templates.render, template_id, variables, owner=owner, idempotency_key=idempotency_key
    )
    return json_response(ctx.service.status_document(job))
