"""``create_app(container) -> FastAPI``: the HTTP API, embedded (uvicorn) and on Lambda (Mangum)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from autovid.auth.authenticators import ApiGatewayAuthenticator, Authenticator, LocalAuthenticator
from autovid.auth.keys import KeyStore
from autovid.entrypoints.api.batches_routes import install_batch_routes
from autovid.entrypoints.api.errors import install_error_handlers
from autovid.entrypoints.api.routes import ApiContext, build_router
from autovid.errors import ConfigError
from autovid.spec.models import JobSpec

DESCRIPTION = """
Lay text-to-speech voice-overs, sound effects and a ducked, crossfaded music bed over a video.

Send a job spec to `POST /submit`, follow it with `GET /status/{jobId}` (or a webhook), and
download the MP4 from `output.url`. Every route but `/health` and `/files/…` needs an
`X-API-Key` header; each key has a usage plan (by default 2 requests/s, burst 5, 50 per day).
"""
UPLOAD_SUBDIR = "tmp"


def create_app(container: Any, *, authenticator: Authenticator | None = None) -> FastAPI:
    """The API for ``container`` (from ``autovid.bootstrap.bootstrap``). The authenticator
    defaults to API Gateway's key id on AWS and to the container's key store embedded."""
    settings = container.settings
    ctx = ApiContext(
        service=container.service,
        blobs=container.blobs,
        settings=settings,
        auth=authenticator or default_authenticator(container),
        version=_version(),
        upload_dir=_upload_dir(container),
    )
    app = FastAPI(
        title="autovid",
        version=ctx.version,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    app.include_router(build_router(ctx))
    install_batch_routes(app, ctx, getattr(container, "batches", None))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.context = ctx
    return app


def default_authenticator(container: Any) -> Authenticator:
    keys = getattr(container, "keys", None)
    if isinstance(keys, Authenticator):
        return keys
    if container.settings.backend == "aws":
        return ApiGatewayAuthenticator()
    if isinstance(keys, KeyStore):
        return LocalAuthenticator(keys)
    if getattr(container, "db", None) is None:
        raise ConfigError("the embedded API needs a key store: bootstrap gave neither 'keys' nor 'db'")
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore

    return LocalAuthenticator(SqliteKeyStore(container.db))


def _upload_dir(container: Any) -> Any:
    if container.settings.backend == "aws":
        return None  # Lambda: the system temp dir is the writable one
    path = container.settings.data_dir / UPLOAD_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version() -> str:
    try:
        return metadata.version("autovid")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the job spec's JSON Schema, which ``/submit`` refers to."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    spec_schema = JobSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(spec_schema.pop("$defs", {}))
    schemas["JobSpec"] = spec_schema
    app.openapi_schema = document
    return document
