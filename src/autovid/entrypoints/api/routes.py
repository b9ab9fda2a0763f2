"""The routes, one module per resource: jobs (submit, status, list, cancel), assets (uploads),
files (signed downloads) and health."""

from __future__ import annotations

from fastapi import APIRouter

from autovid.entrypoints.api import asset_routes, file_routes, health_routes, job_routes
from autovid.entrypoints.api.context import ApiContext

__all__ = ["ApiContext", "build_router"]


def build_router() -> APIRouter:
    router = APIRouter()
    for module in (job_routes, asset_routes, file_routes, health_routes):
        router.include_router(module.router)
    return router
