"""The ports: the small interfaces the core talks to. Adapters live in ``autovid.adapters``.

| port        | embedded adapter     | AWS adapter      |
|-------------|----------------------|------------------|
| JobStore    | SqliteJobStore       | DynamoJobStore   |
| JobQueue    | SqliteJobQueue       | SqsJobQueue      |
| BlobStore   | LocalBlobStore       | S3BlobStore      |
| SpeechEngine| EspeakEngine         | PollyEngine      |
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from autovid.jobs.model import Job, JobStatus


class JobStore(ABC):
    """Durable job records with conditional state transitions."""

    @abstractmethod
    def create(self, job: Job) -> Job:
        """Insert ``job``. When the owner already has a job with the same idempotency key, return
        that job instead (and insert nothing)."""

    @abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    def update(
        self,
        job_id: str,
        changes: dict[str, Any],
        *,
        expect_status: Collection[JobStatus] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Job:
        """Apply ``changes`` (Job field names) atomically; raise ``ConflictError`` when the job's
        status is not in ``expect_status`` or a field named in ``expect`` does not hold the given
        value (e.g. ``{"claim_token": t}``), and ``JobNotFoundError`` when there is no such job.
        ``updated_at`` is set to now unless ``changes`` sets it. ``ValueError`` for changes to
        ``job_id``, ``owner`` or ``submitted_at`` (``jobs.model.IMMUTABLE_FIELDS``)."""

    @abstractmethod
    def list(
        self, owner: str, *, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        """The owner's jobs, newest first, and a cursor for the next page (None at the end)."""


@dataclass(frozen=True)
class QueueMessage:
    job_id: str
    receipt: str  # opaque handle for delete / extend / release
    receive_count: int  # 1 on first delivery


class JobQueue(ABC):
    """At-least-once delivery with leases (visibility timeouts), like SQS."""

    @abstractmethod
    def send(self, job_id: str, *, delay_s: float = 0) -> None: ...

    @abstractmethod
    def receive(self, *, max_messages: int = 1, wait_s: float = 0) -> list[QueueMessage]: ...

    @abstractmethod
    def extend_lease(self, message: QueueMessage, lease_s: float) -> None: ...

    @abstractmethod
    def delete(self, message: QueueMessage) -> None: ...

    @abstractmethod
    def release(self, message: QueueMessage, *, delay_s: float = 0) -> None:
        """Make the message visible again after ``delay_s`` (a retry with backoff)."""


class BlobStore(ABC):
    """Files by key (``assets/…``, ``outputs/…``) in the managed storage."""

    @abstractmethod
    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None: ...

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest``; ``StorageError`` when it does not exist or the key is not
        allowed."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def download_url(self, key: str, *, expires_s: int) -> tuple[str, datetime]:
        """A time-limited URL from which anyone holding it can GET the object, and its expiry."""

    @abstractmethod
    def uri(self, key: str) -> str | None:
        """The object's public identifier (``s3://bucket/key``), or None for local storage."""


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    text_type: str  # "text" | "ssml"
    voice_id: str
    engine: str  # Polly engine name
    language_code: str | None

    def cache_fields(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "text_type": self.text_type,
            "voice_id": self.voice_id,
            "engine": self.engine,
            "language_code": self.language_code,
        }


@dataclass(frozen=True)
class SpeechAudio:
    data: bytes
    extension: str  # "wav" | "mp3" | …, for the decoder


class SpeechEngine(ABC):
    """Text-to-speech. ``name`` and ``version`` enter the cache key with the request."""

    name: str = "speech"
    version: str = "1"

    @abstractmethod
    def synthesize(self, request: SpeechRequest) -> SpeechAudio: ...

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        """(engine label, the engine's own voice name) that speaks ``request``, for the report."""
        return (self.name, request.voice_id)


class SourceTransport(ABC):
    """Downloads asset sources of one scheme (``https://``, ``s3://``) for the asset fetcher."""

    @abstractmethod
    def download(self, source: str, part: Path, *, max_bytes: int, abort: threading.Event) -> str:
        """Write the object ``source`` names to ``part`` (refusing more than ``max_bytes``, stopping
        when ``abort`` is set); return its file extension, or "". Raises
        ``autovid.assets.common.FetchRefused`` (permanent) or ``FetchFailed`` (may pass later)."""

    def close(self) -> None:  # noqa: B027 - optional: transports without connections keep nothing
        """Release pooled connections."""
