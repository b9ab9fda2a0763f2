"""What every route module shares: the ``ApiContext`` and the annotated parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from autovid.auth.authenticators import API_KEY_HEADER, Authenticator
from autovid.config import Settings
from autovid.jobs.batches import BatchService
from autovid.jobs.service import JobService
from autovid.ports import BlobStore

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


def api_context(request: Request) -> ApiContext:
    """The app's context (``create_app`` puts it in ``app.state``), for ``Depends``."""
    ctx: ApiContext = request.app.state.context
    return ctx


Context = Annotated[ApiContext, Depends(api_context)]


def batch_service(request: Request) -> BatchService:
    """The app's batch service (``install_batch_routes`` puts it in ``app.state``)."""
    batches: BatchService = request.app.state.batches
    return batches


Batches = Annotated[BatchService, Depends(batch_service)]
