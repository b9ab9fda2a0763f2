"""``create_app(container) -> FastAPI``: the HTTP API, embedded (uvicorn) and on Lambda (Mangum)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from autovid.auth.authenticators import ApiGatewayAuthenticator, Authenticator, LocalAuthenticator
from autovid.auth.keys import KeyStore
from autovid.bootstrap import Container
from autovid.entrypoints.api import schemas as docs
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


def create_app(container: Container, *, authenticator: Authenticator | None = None) -> FastAPI:
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
    app.include_router(build_router())
    install_batch_routes(app, container.batches)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.context = ctx
    return app


def default_authenticator(container: Container) -> Authenticator:
    keys = container.keys
    if isinstance(keys, Authenticator):
        return keys
    if container.settings.backend == "aws":
        return ApiGatewayAuthenticator()
    if isinstance(keys, KeyStore):
        return LocalAuthenticator(keys)
    if container.db is None:
        raise ConfigError("the embedded API needs a key store: bootstrap gave neither 'keys' nor 'db'")
    from autovid.adapters.local.sqlite_keys import SqliteKeyStore

    return LocalAuthenticator(SqliteKeyStore(container.db))


def _upload_dir(container: Container) -> Path | None:
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
    _document_error_answers(document)
    app.openapi_schema = document
    return document


def _document_error_answers(document: dict[str, Any]) -> None:
    """The answers FastAPI does not know we give: a bad parameter is our 400 (FastAPI documents
    a 422 it never sends here), and any route that reads a store may answer 503."""
    components = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in (docs.ValidationErrorDoc, docs.ErrorDetailDoc, docs.ErrorDoc):
        components.setdefault(model.__name__, _component(model))
    for path, item in document["paths"].items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault("400", _answer(docs.ValidationErrorDoc, docs.VALIDATION_RESPONSE))
            if not path.startswith("/files/"):
                responses.setdefault("503", _answer(docs.ErrorDoc, docs.UNAVAILABLE_RESPONSE))


def _component(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


def _answer(model: type[BaseModel], response: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": response["description"], "content": {"application/json": {"schema": ref}}}
