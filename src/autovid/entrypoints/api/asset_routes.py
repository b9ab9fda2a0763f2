"""Assets: upload through the API, or get a pre-signed URL to upload straight to S3."""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from autovid.assets.ownership import upload_key
from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.bodies import receive_to_file
from autovid.entrypoints.api.context import ApiContext, ApiKeyValue, Context
from autovid.entrypoints.api.errors import json_response
from autovid.errors import ErrorDetail, SpecError
from autovid.jobs.model import isoformat

MEDIA_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".mp3", ".wav", ".m4a", ".flac")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _any_case(extension: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in extension.lstrip("."))


# check_filename's rule as a JSON Schema pattern, for the document only (the route answers with
# its own messages): no '..', no leading '.', a media extension in any case.
FILENAME_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.("
    + "|".join(_any_case(e) for e in MEDIA_EXTENSIONS)
    + ")$"
)
FilenameQuery = Annotated[
    str,
    Query(
        description=f"file name ending with {', '.join(MEDIA_EXTENSIONS)}",
        json_schema_extra={"pattern": FILENAME_PATTERN, "minLength": 5, "maxLength": 128},
    ),
]

router = APIRouter(tags=["assets"])


@router.post(
    "/assets",
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
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            },
        }
    },
)
async def upload(request: Request, ctx: Context, api_key: ApiKeyValue, filename: FilenameQuery) -> Response:
    """Send the file's bytes as the raw request body (`curl --data-binary @music.mp3`). The
    answer's `source` (`assets/<owner>/<id>/<filename>`) names the file in a spec."""
    owner = await run_in_threadpool(ctx.owner, request, api_key)
    name = check_filename(filename)
    return await _store_upload(request, ctx, upload_key(owner, name), name)


@router.post(
    "/assets/upload-url",
    summary="Get a pre-signed upload URL (AWS)",
    status_code=201,
    responses={
        201: {"model": schemas.UploadUrlDoc, "description": "PUT the file to `uploadUrl`"},
        400: {"model": schemas.ValidationErrorDoc},
        404: {"model": schemas.ErrorDoc, "description": "local storage: use POST /assets"},
        **schemas.AUTH_RESPONSES,
    },
)
def upload_url(request: Request, ctx: Context, api_key: ApiKeyValue, filename: FilenameQuery) -> Response:
    """For files too large to pass through the API (API Gateway caps bodies at 10 MB): PUT
    the bytes straight to S3 at `uploadUrl`, then use `source` in a spec."""
    owner = ctx.owner(request, api_key)
    name = check_filename(filename)
    key = upload_key(owner, name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    presigned = ctx.blobs.upload_url(
        key, expires_s=ctx.settings.presigned_url_expiration_s, content_type=content_type
    )
    if presigned is None:
        return json_response(
            {"error": "Not available", "message": "local storage takes uploads at POST /assets"}, 404
        )
    url, expires_at = presigned
    doc = {
        "source": key,
        "uri": ctx.blobs.uri(key),
        "uploadUrl": url,
        "method": "PUT",
        "headers": {"Content-Type": content_type},
        "expiresAt": isoformat(expires_at),
    }
    return json_response(doc, 201)


async def _store_upload(request: Request, ctx: ApiContext, key: str, name: str) -> Response:
    fd, name_on_disk = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=ctx.upload_dir)
    os.close(fd)
    spool = FilePath(name_on_disk)
    try:
        size, sha256 = await receive_to_file(request, spool, limit_bytes=ctx.settings.max_upload_bytes)
        if size == 0:
            raise SpecError([ErrorDetail("$", "the upload is empty; send the file's bytes as the body")])
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
