"""Health: no key needed."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.context import Context
from autovid.entrypoints.api.errors import json_response

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    summary="Liveness",
    responses={
        200: {"model": schemas.HealthDoc},
        503: {"model": schemas.ErrorDoc, "description": "the job store does not answer; retry shortly"},
    },
)
def health(ctx: Context) -> Response:
    """No key needed. 200 while the job store answers."""
    ctx.service.store.get("00000000-0000-0000-0000-000000000000")
    return json_response({"status": "ok", "version": ctx.version, "backend": ctx.settings.backend})
