"""Files: the target of signed ``output.url`` links of local storage. No API key: the signature
is the credential."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import FileResponse, Response

from autovid.entrypoints.api import schemas
from autovid.entrypoints.api.context import Context
from autovid.entrypoints.api.errors import json_response
from autovid.errors import StorageError

router = APIRouter(tags=["files"])
FILES_PATH = "/files/{key:path}"


def download(
    key: str,
    ctx: Context,
    expires: Annotated[str, Query(description="expiry (epoch seconds) from the signed URL")] = "",
    signature: Annotated[str, Query(description="signature from the signed URL")] = "",
) -> Response:
    """The target of `output.url`. No API key: the signature is the credential; a tampered
    or expired link gets 403."""
    try:
        path = ctx.blobs.verify_download(key, expires, signature)
    except StorageError as exc:
        return json_response({"message": "Forbidden", "reason": exc.message}, 403)
    if path is None:  # on AWS, output URLs point at S3 instead
        return json_response({"error": "Not found"}, 404)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)


router.add_api_route(
    FILES_PATH,
    download,
    methods=["GET"],
    summary="Download through a signed URL",
    responses={
        200: {
            "description": "the file",
            "content": {
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                "text/vtt": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
            },
        },
        403: {"model": schemas.ForbiddenLinkDoc, "description": "bad signature, expired link or no file"},
        404: {"model": schemas.ErrorDoc, "description": "downloads come from S3 (AWS backend)"},
    },
)
router.add_api_route(FILES_PATH, download, methods=["HEAD"], include_in_schema=False)
