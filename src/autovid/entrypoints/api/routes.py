"""The routes (docs/API.md): submit, status, list, cancel, upload, signed downloads, health.

Routes that only touch the database are plain ``def`` functions: FastAPI runs them in its thread
pool, so a SQLite call never blocks the event loop, and authentication plus the route's work
cost one thread hop. Routes that read a body are ``async`` and hop to the pool for the calls.
"""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from autovid.assets.ownership import upload_key
from autovid.auth.authenticators import API_KEY_HEADER, Authenticator
from autovid.config import Settings
from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.bodies import parse_json_object, read_body, receive_to_file
from autovid.entrypoints.api.errors import json_response
from autovid.errors import ErrorDetail, SpecError, StorageError
from autovid.jobs.model import JobStatus, isoformat
from autovid.jobs.service import JobService
from autovid.ports import BlobStore

MEDIA_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".mp3", ".wav", ".m4a", ".flac")
FilenameQuery = Annotated[
    str | None, Query(description=f"file name ending with {', '.join(MEDIA_EXTENSIONS)}")
]
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="the key `autovid keys create` printed"
)
ApiKeyValue = Annotated[str | None, Security(api_key_header)]
JobIdPath = Annotated[str, Path(alias="jobId", max_length=100, description="the jobId /submit returned")]


@dataclass
class ApiContext:
    service: JobService
    blobs: BlobStore
    settings: Settings
    auth: Authenticator
    version: str
    upload_dir: FilePath | None  # where uploads are spooled before storage; None: the system temp dir

    def owner(self, request: Request, api_key: str | None) -> str:
        return self.auth.authenticate(api_key, request.scope)


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()
    service = ctx.service

    @router.post(
        "/submit",
        tags=["jobs"],
        summary="Submit a job spec",
        responses={
            200: {"model": schemas.StatusDoc, "description": "the job's status document (submitted)"},
            400: {"model": schemas.ValidationErrorDoc, "description": "invalid spec or malformed JSON"},
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
        request: Request,
        api_key: ApiKeyValue,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="repeat a request with the same key to get the same job back",
            ),
        ] = None,
    ) -> Response:
        """Validate the spec, store the job and queue it. With an `Idempotency-Key`, a repeated
        request returns the first job instead of creating another."""
        owner = await run_in_threadpool(ctx.owner, request, api_key)
        raw = parse_json_object(await read_body(request, limit_bytes=ctx.settings.max_body_bytes))
        job = await run_in_threadpool(service.submit, raw, owner=owner, idempotency_key=idempotency_key)
        return json_response(service.status_document(job))

    @router.get(
        "/status/{jobId}",
        tags=["jobs"],
        summary="A job's status",
        responses={
            200: {"model": schemas.StatusDoc},
            404: {"model": schemas.NotFoundDoc, "description": "no such job for this key"},
            **schemas.AUTH_RESPONSES,
        },
    )
    def status(job_id: JobIdPath, request: Request, api_key: ApiKeyValue) -> Response:
        """The status document: status, progress and, once completed, a signed output URL."""
        job = service.get(job_id, owner=ctx.owner(request, api_key))
        return json_response(service.status_document(job))

    @router.get(
        "/jobs",
        tags=["jobs"],
        summary="List your jobs, newest first",
        responses={200: {"model": schemas.JobListDoc}, **schemas.AUTH_RESPONSES},
    )
    def list_jobs(
        request: Request,
        api_key: ApiKeyValue,
        status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
        cursor: Annotated[str | None, Query(max_length=512, description="nextCursor of a page")] = None,
    ) -> Response:
        owner = ctx.owner(request, api_key)
        jobs, next_cursor = service.list(owner=owner, status=status, limit=limit, cursor=cursor)
        return json_response({"jobs": [service.status_document(j) for j in jobs], "nextCursor": next_cursor})

    @router.post(
        "/jobs/{jobId}/cancel",
        tags=["jobs"],
        summary="Cancel a job",
        responses={
            200: {"model": schemas.StatusDoc},
            404: {"model": schemas.NotFoundDoc},
            409: {"model": schemas.ErrorDoc, "description": "the job already completed or failed"},
            **schemas.AUTH_RESPONSES,
        },
    )
    def cancel(job_id: JobIdPath, request: Request, api_key: ApiKeyValue) -> Response:
        """A queued job is cancelled at once and never renders. A running job is asked to stop:
        it reads `processing` until its worker stops it moments later, then `cancelled`."""
        job = service.cancel(job_id, owner=ctx.owner(request, api_key))
        return json_response(service.status_document(job))

    @router.post(
        "/assets",
        tags=["assets"],
        summary="Upload an asset",
        status_code=201,
        responses={
            201: {"model": schemas.UploadDoc, "description": "stored; use `source` in a spec"},
            400: {"model": schemas.ValidationErrorDoc},
            413: {"model": schemas.ErrorDoc, "description": "over AUTOVID_MAX_UPLOAD_BYTES"},
            **schemas.AUTH_RESPONSES,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def upload(
        request: Request,
        api_key: ApiKeyValue,
        filename: FilenameQuery = None,
    ) -> Response:
        """Send the file's bytes as the raw request body (`curl --data-binary @music.mp3`). The
        answer's `source` (`assets/<owner>/<id>/<filename>`) names the file in a spec."""
        owner = await run_in_threadpool(ctx.owner, request, api_key)
        name = check_filename(filename)
        return await _store_upload(request, ctx, upload_key(owner, name), name)

    @router.post(
        "/assets/upload-url",
        tags=["assets"],
        summary="Get a pre-signed upload URL (AWS)",
        status_code=201,
        responses={
            201: {"model": schemas.UploadUrlDoc, "description": "PUT the file to `uploadUrl`"},
            400: {"model": schemas.ValidationErrorDoc},
            404: {"model": schemas.ErrorDoc, "description": "local storage: use POST /assets"},
            **schemas.AUTH_RESPONSES,
        },
    )
    def upload_url(
        request: Request,
        api_key: ApiKeyValue,
        filename: FilenameQuery = None,
    ) -> Response:
        """For files too large to pass through the API (API Gateway caps bodies at 10 MB): PUT
        the bytes straight to S3 at `uploadUrl`, then use `source` in a spec."""
        owner = ctx.owner(request, api_key)
        name = check_filename(filename)
        presign = getattr(ctx.blobs, "upload_url", None)
        if presign is None:
            return json_response(
                {"error": "Not available", "message": "local storage takes uploads at POST /assets"}, 404
            )
        key = upload_key(owner, name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        url, expires_at = presign(
            key, expires_s=ctx.settings.presigned_url_expiration_s, content_type=content_type
        )
        doc = {
            "source": key,
            "uri": ctx.blobs.uri(key),
            "uploadUrl": url,
            "method": "PUT",
            "headers": {"Content-Type": content_type},
            "expiresAt": isoformat(expires_at),
        }
        return json_response(doc, 201)

    def download(
        key: str,
        expires: Annotated[str, Query(description="expiry (epoch seconds) from the signed URL")] = "",
        signature: Annotated[str, Query(description="signature from the signed URL")] = "",
    ) -> Response:
        """The target of `output.url`. No API key: the signature is the credential; a tampered
        or expired link gets 403."""
        verify = getattr(ctx.blobs, "verify_download", None)
        if verify is None:  # on AWS, output URLs point at S3 instead
            return json_response({"error": "Not found"}, 404)
        try:
            path = verify(key, expires, signature)
        except StorageError as exc:
            return json_response({"message": "Forbidden", "reason": exc.message}, 403)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type)

    files_path = "/files/{key:path}"
    router.add_api_route(
        files_path,
        download,
        methods=["GET"],
        tags=["files"],
        summary="Download through a signed URL",
        responses={200: {"content": {"video/mp4": {}}}, 403: {"model": schemas.MessageDoc}},
    )
    router.add_api_route(files_path, download, methods=["HEAD"], include_in_schema=False)

    @router.get(
        "/health", tags=["service"], summary="Liveness", responses={200: {"model": schemas.HealthDoc}}
    )
    def health() -> Response:
        """No key needed. 200 while the job store answers."""
        service.store.get("00000000-0000-0000-0000-000000000000")
        backend = ctx.settings.backend
        return json_response({"status": "ok", "version": ctx.version, "backend": backend})

    return router


async def _store_upload(request: Request, ctx: ApiContext, key: str, name: str) -> Response:
    fd, name_on_disk = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=ctx.upload_dir)
    os.close(fd)
    spool = FilePath(name_on_disk)
    try:
        size, sha256 = await receive_to_file(request, spool, limit_bytes=ctx.settings.max_upload_bytes)
        content_type = mimetypes.guess_type(name)[0]
        await run_in_threadpool(ctx.blobs.put_file, key, spool, content_type=content_type)
    finally:
        spool.unlink(missing_ok=True)
    doc: dict[str, Any] = {"source": key, "uri": ctx.blobs.uri(key), "size": size, "sha256": sha256}
    return json_response(doc, 201)


def check_filename(filename: str | None) -> str:
    if not filename:
        raise SpecError([ErrorDetail("query.filename", "is required, e.g. ?filename=music.mp3")])
    name = PurePosixPath(filename).name if "/" not in filename and "\\" not in filename else ""
    if not name or not _FILENAME.match(name) or ".." in name:
        raise SpecError(
            [
                ErrorDetail(
                    "query.filename",
                    "must be a plain file name of letters, digits, '.', '_' or '-' (at most 128 "
                    "characters, no folders), such as 'music.mp3'",
                )
            ]
        )
    if not name.lower().endswith(MEDIA_EXTENSIONS):
        raise SpecError(
            [ErrorDetail("query.filename", f"must end with one of {', '.join(MEDIA_EXTENSIONS)}")]
        )
    return name
