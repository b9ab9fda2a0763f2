"""The ports: the small interfaces the core talks to. Adapters live in ``autovid.adapters``.

| port        | embedded adapter     | AWS adapter      |
|-------------|----------------------|------------------|
| JobStore    | SqliteJobStore       | DynamoJobStore   |
| JobQueue    | SqliteJobQueue       | SqsJobQueue      |
| BlobStore   | LocalBlobStore       | S3BlobStore      |
| SpeechEngine| EspeakEngine         | PollyEngine      |
| WebhookSender | HttpWebhookSender  | HttpWebhookSender |

Optional capabilities are methods with a default that says "not here" (``None``, ``[]`` or
``False``), so a renamed adapter method fails the contract tests instead of silently switching a
feature off.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from autovid.errors import StorageError
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
        ``updated_at`` is set to now unless ``changes`` sets it."""

    @abstractmethod
    def list(
        self, owner: str, *, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        """The owner's jobs, newest first, and a cursor for the next page (None at the end)."""

    def purge_expired(self) -> list[Job]:
        """Delete the records past their TTL and return them, so their outputs can go too. The
        default deletes nothing: a store whose database expires records itself (DynamoDB TTL)."""
        return []


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
    def receive(
        self, *, max_messages: int = 1, wait_s: float = 0, stop: threading.Event | None = None
    ) -> list[QueueMessage]:
        """Up to ``max_messages``, waiting up to ``wait_s`` for one. A queue that can end its
        long poll early does so once ``stop`` is set; others wait out ``wait_s``."""

    @abstractmethod
    def extend_lease(self, message: QueueMessage, lease_s: float) -> None: ...

    @abstractmethod
    def delete(self, message: QueueMessage) -> None: ...

    @abstractmethod
    def release(self, message: QueueMessage, *, delay_s: float = 0) -> None:
        """Make the message visible again after ``delay_s`` (a retry with backoff)."""

    def set_dead_letter_handler(self, handler: Callable[[str, int], None]) -> bool:
        """Have ``handler(job_id, receive_count)`` called when this queue dead-letters a message
        itself. Returns False when it does not (SQS redrives to its dead-letter queue, whose own
        consumer fails the job)."""
        return False


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

    def delete(self, key: str) -> None:
        raise StorageError(f"this storage does not delete objects ('{key}')")

    def upload_url(
        self, key: str, *, expires_s: int, content_type: str | None = None
    ) -> tuple[str, datetime] | None:
        """A pre-signed URL a client PUTs an asset to, and its expiry; None when the storage takes
        uploads only through the API (local storage: ``POST /assets``)."""
        return None

    def verify_download(self, key: str, expires: str, signature: str) -> Path | None:
        """The file behind a signed ``/files/…`` URL (``StorageError`` when the link is bad or
        expired); None when downloads do not pass through the API (S3 serves its own URLs)."""
        return None


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


WebhookOutcome = Literal["delivered", "refused", "failed"]


@dataclass(frozen=True)
class WebhookDelivery:
    """What happened to a job's webhook: ``delivered`` (a 2xx), ``refused`` (the receiver
    answered 3xx/4xx, or the target is not allowed: not retried) or ``failed`` (5xx, timeouts or
    connection errors on every attempt)."""

    url: str  # with userinfo and query values redacted
    method: str
    outcome: WebhookOutcome
    attempts: int
    status_code: int | None
    error: str | None
    at: str  # ISO 8601 UTC of the last attempt

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "outcome": self.outcome,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "statusCode": self.status_code,
            "error": self.error,
            "at": self.at,
        }


class WebhookSender(ABC):
    """Sends a finished job's status document to the spec's webhook, signed, with retries."""

    @abstractmethod
    def deliver(
        self,
        url: str,
        payload: Mapping[str, Any],
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> WebhookDelivery: ...
