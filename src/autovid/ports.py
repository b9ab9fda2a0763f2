"""The ports: the small interfaces the core talks to. Adapters live in ``autovid.adapters``.

| port        | embedded adapter     | AWS adapter      |
|-------------|----------------------|------------------|
| JobStore    | SqliteJobStore       | DynamoJobStore   |
| JobQueue    | SqliteJobQueue       | SqsJobQueue      |
| BlobStore   | LocalBlobStore       | S3BlobStore      |
| SpeechEngine| EspeakEngine         | PollyEngine      |
| TemplateStore| SqliteTemplateStore | DynamoTemplateStore |
| BatchStore  | SqliteBatchStore     | DynamoBatchStore |
| WebhookSender | HttpWebhookSender  | HttpWebhookSender |

Optional capabilities are methods with a default that says "not here" (``None``, ``[]`` or
``False``), so a renamed adapter method fails the contract tests instead of silently switching a
feature off.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from autovid.errors import StorageError
from autovid.jobs.model import Job, JobStatus

if TYPE_CHECKING:  # named in signatures only: a render does not load the batch records
    from autovid.jobs.batch_model import Batch, BatchRow, RowStatus, StoredTemplate


class JobStore(ABC):
    """Durable job records with conditional state transitions."""

    @abstractmethod
    def create(self, job: Job) -> Job:
        """Insert ``job``. When the owner already has a job with the same idempotency key, return
        that job instead (and insert nothing)."""

    @abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs found among ``job_ids``, by id (a page of a batch's rows); adapters read them
        in as few calls as the backend allows."""
        found = {job_id: self.get(job_id) for job_id in dict.fromkeys(job_ids)}
        return {job_id: job for job_id, job in found.items() if job is not None}

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

    def create_many(self, jobs: Sequence[Job]) -> list[Job]:
        """Insert every job whose id is free; return the ones inserted (a job already stored
        under its id stays as it is). Used for a batch's rows, whose job ids are derived from
        the batch and the row, so a repeated acceptance creates nothing twice."""
        created = []
        for job in jobs:
            if self.get(job.job_id) is None:
                created.append(self.create(job))
        return created

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

    def send_many(self, job_ids: Sequence[str]) -> None:
        """Queue many jobs at once (a batch's rows); adapters send them in as few calls as the
        backend allows."""
        for job_id in job_ids:
            self.send(job_id)

    @abstractmethod
    def receive(
        self, *, max_messages: int = 1, wait_s: float = 0, stop: threading.Event | None = None
    ) -> list[QueueMessage]:
        """Up to ``max_messages``, waiting up to ``wait_s`` for one. A queue that can end its
        long poll early does so once ``stop`` is set; others wait out ``wait_s``."""

    @abstractmethod
    def extend_lease(self, message: QueueMessage, lease_s: float) -> None: ...

    @abstractmethod
    def delete(self, message: QueueMessage) -> None:
        """Remove the message for good. A receipt from an earlier delivery may be refused
        (``ConflictError``), ignored (SQS) or honoured (moto): callers delete only the messages of
        jobs that have ended, so any of the three is safe."""

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
    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        """Store the file at ``path`` under ``key``; ``path`` is not written afterwards (a local
        store may hard-link it)."""

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """The object at ``dest``, to be read only (a local store may hard-link it);
        ``StorageError`` when it does not exist or the key is not allowed."""

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
    # Ask the engine for word timings too (captions); costs Polly a second request per part.
    word_timings: bool = False

    def cache_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "text": self.text,
            "text_type": self.text_type,
            "voice_id": self.voice_id,
            "engine": self.engine,
            "language_code": self.language_code,
        }
        if self.word_timings:  # only then: speech cached before captions existed keeps its key
            fields["word_timings"] = True
        return fields


@dataclass(frozen=True)
class WordTiming:
    """A word (or, from engines that time phrases, a phrase) as spoken: its text as captions show
    it, where it sounds in the speech audio, and where it is in the spoken text (``start_char``
    and ``end_char`` index the plain text, or for SSML the text without its markup)."""

    text: str
    start_s: float
    end_s: float
    start_char: int
    end_char: int


@dataclass(frozen=True)
class SpeechAudio:
    data: bytes
    extension: str  # "wav" | "mp3" | …, for the decoder
    words: tuple[WordTiming, ...] = ()  # filled when the request asked for word timings


class SpeechEngine(ABC):
    """Text-to-speech. ``name`` and ``version`` enter the cache key with the request."""

    name: str = "speech"
    version: str = "1"

    @abstractmethod
    def synthesize(self, request: SpeechRequest) -> SpeechAudio: ...

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        """(engine label, the engine's own voice name) that speaks ``request``, for the report."""
        return (self.name, request.voice_id)


class TemplateStore(ABC):
    """An owner's templates, every version kept. A template id is only ever seen with its
    owner: another owner's id reads as absent."""

    @abstractmethod
    def create(self, template: StoredTemplate) -> StoredTemplate:
        """Store version 1 of a new template."""

    @abstractmethod
    def get(self, owner: str, template_id: str, *, version: int | None = None) -> StoredTemplate | None:
        """The latest version (or ``version``); None when absent or deleted."""

    @abstractmethod
    def put_version(self, owner: str, template_id: str, document: dict[str, Any]) -> StoredTemplate:
        """Store ``document`` as the next version; ``TemplateNotFoundError`` when there is no such
        template. Earlier versions stay readable."""

    @abstractmethod
    def delete(self, owner: str, template_id: str) -> bool:
        """Delete the template (every version); False when there was none."""

    @abstractmethod
    def list(
        self, owner: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredTemplate], str | None]:
        """The latest version of each of the owner's templates, by template id, and a cursor."""


class BatchStore(ABC):
    """Batch records with per-row job ids and counters that every row move adjusts atomically."""

    @abstractmethod
    def create(self, batch: Batch, rows: Sequence[BatchRow]) -> Batch:
        """Store the batch and its rows as one. When the owner already has a batch with the same
        idempotency key, return that batch instead (and store nothing)."""

    @abstractmethod
    def get(self, batch_id: str) -> Batch | None: ...

    @abstractmethod
    def rows(
        self, batch_id: str, *, start: int = 0, limit: int = 100, status: RowStatus | None = None
    ) -> list[BatchRow]:
        """Rows from index ``start`` on, in row order (only those in ``status`` when given)."""

    @abstractmethod
    def move_row(
        self, batch_id: str, row: int, *, job_id: str, to: RowStatus, new_job_id: str | None = None
    ) -> Batch | None:
        """Move the row to ``to`` when its current job is ``job_id`` and its status may move
        there (``ALLOWED_FROM``); adjust the counters in the same write; optionally give the row a
        new job (a retry). Returns the batch after the move, or None when the row was not in a
        state to move (already moved by someone else, or its job was replaced)."""

    @abstractmethod
    def update(
        self, batch_id: str, changes: dict[str, Any], *, expect: dict[str, Any] | None = None
    ) -> Batch:
        """Set Batch fields other than the counters; ``ConflictError`` when a field named in
        ``expect`` does not hold the given value, ``BatchNotFoundError`` when there is no batch."""


class SourceTransport(ABC):
    """Downloads asset sources of one scheme (``https://``, ``s3://``) for the asset fetcher."""

    @abstractmethod
    def download(self, source: str, part: Path, *, max_bytes: int, abort: threading.Event) -> str:
        """Write the object ``source`` names to ``part`` (refusing more than ``max_bytes``, stopping
        when ``abort`` is set); return its file extension, or "". Raises
        ``autovid.assets.common.FetchRefused`` (permanent) or ``FetchFailed`` (may pass later)."""

    def close(self) -> None:  # noqa: B027 - optional: transports without connections keep nothing
        """Release pooled connections."""


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
