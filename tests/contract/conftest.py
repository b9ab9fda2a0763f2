"""One contract suite for every JobStore / JobQueue / BlobStore implementation.

Each fixture is parametrized over a list of backends. To add an implementation (DynamoDB, SQS, S3
against a moto server), append a ``Backend`` to ``STORE_BACKENDS`` / ``QUEUE_BACKENDS`` /
``BLOB_BACKENDS`` whose ``make(tmp_path, request)`` returns the object under test (queues and blob
stores come wrapped in a small harness that exposes what the contract needs to observe).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from autovid.adapters.local.db import Database
from autovid.adapters.local.local_blobs import LocalBlobStore
from autovid.adapters.local.signing import Signer
from autovid.adapters.local.sqlite_jobs import SqliteJobStore
from autovid.adapters.local.sqlite_queue import SqliteJobQueue
from autovid.ports import BlobStore, JobQueue, JobStore, QueueMessage

LEASE_S = 1.0  # SQS visibility timeouts are whole seconds
MAX_RECEIVES = 3


@dataclass
class QueueHarness:
    queue: JobQueue
    lease_s: float
    max_receives: int
    dead_letter_job_ids: Callable[[], list[str]]  # job ids of messages moved to the dead-letter queue
    make_twin: Callable[[], JobQueue]  # a second client of the same queue (another process's view)
    dead_letters_itself: bool = False  # calls the handler given to set_dead_letter_handler

    def receive_one(self, queue: JobQueue | None = None, *, wait_s: float = 3.0) -> QueueMessage:
        """Receive exactly one message within ``wait_s`` (remote queues may need a moment)."""
        queue = queue or self.queue
        deadline = time.monotonic() + wait_s
        while True:
            messages = queue.receive(max_messages=1, wait_s=min(1.0, wait_s))
            if messages:
                assert len(messages) == 1
                return messages[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no message within {wait_s} s")

    def receive_none(self, queue: JobQueue | None = None, *, wait_s: float = 0.3) -> None:
        messages = (queue or self.queue).receive(max_messages=10, wait_s=wait_s)
        assert messages == [], f"expected no visible message, got {messages}"


@dataclass
class BlobHarness:
    blobs: BlobStore
    fetch_url: Callable[[str], bytes]  # GET a download URL as an anonymous client would
    presigns_uploads: bool = False  # upload_url gives a URL (S3) instead of None
    serves_downloads: bool = False  # verify_download checks /files/… links (local) instead of None


@dataclass(frozen=True)
class Backend:
    name: str
    make: Callable[[Path, pytest.FixtureRequest], Any]
    # A receipt from an earlier delivery cannot delete the message (SQS documents this; moto
    # deletes by any receipt the message ever had). Nothing relies on it: the processor deletes a
    # message only once its job has ended (tests/integration/jobs/test_processor.py).
    fences_stale_receipts: bool = False


# --- SQLite / local ---------------------------------------------------------------------------


def _sqlite_store(tmp_path: Path, request: pytest.FixtureRequest) -> JobStore:
    return SqliteJobStore(Database(tmp_path / "jobs.db"))


def _sqlite_queue(tmp_path: Path, request: pytest.FixtureRequest) -> QueueHarness:
    path = tmp_path / "queue.db"

    def make() -> SqliteJobQueue:
        return SqliteJobQueue(Database(path), lease_s=LEASE_S, max_receives=MAX_RECEIVES)

    queue = make()
    return QueueHarness(
        queue=queue,
        lease_s=LEASE_S,
        max_receives=MAX_RECEIVES,
        dead_letter_job_ids=lambda: [d.job_id for d in queue.dead_letters()],
        make_twin=make,
        dead_letters_itself=True,
    )


def _local_blobs(tmp_path: Path, request: pytest.FixtureRequest) -> BlobHarness:
    blobs = LocalBlobStore(tmp_path / "files", Signer(b"s" * 32), "http://files.test")

    def fetch(url: str) -> bytes:
        # What the API's /files route does: verify the signature, then serve the file.
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        key = unquote(parts.path.removeprefix("/files/"))
        return blobs.verify_download(key, query["expires"][0], query["signature"][0]).read_bytes()

    return BlobHarness(blobs=blobs, fetch_url=fetch, serves_downloads=True)


# --- DynamoDB / SQS / S3 on a moto server --------------------------------------


@pytest.fixture(scope="session")
def aws_emulator() -> Iterator[Any]:
    """moto in server mode on 127.0.0.1 (a free port), once per test session."""
    from autovid.adapters.aws.emulator import start

    emulator = start()
    yield emulator
    emulator.stop()


def _aws_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"  # every test gets its own bucket / queue / table


def _dynamo_store(tmp_path: Path, request: pytest.FixtureRequest) -> JobStore:
    from autovid.adapters.aws.dynamo_jobs import DynamoJobStore
    from autovid.adapters.aws.provision import create_table

    clients = request.getfixturevalue("aws_emulator").clients()
    table = _aws_name("jobs")
    create_table(clients.dynamodb, table)
    return DynamoJobStore(clients.dynamodb, table)


def _sqs_queue(tmp_path: Path, request: pytest.FixtureRequest) -> QueueHarness:
    from autovid.adapters.aws.provision import create_queues
    from autovid.adapters.aws.sqs_queue import SqsJobQueue, decode_body

    emulator = request.getfixturevalue("aws_emulator")
    sqs = emulator.clients().sqs
    dead_letter_url, queue_url = create_queues(
        sqs, _aws_name("jobs"), max_receives=MAX_RECEIVES, visibility_timeout_s=int(LEASE_S)
    )

    def dead_letter_job_ids() -> list[str]:
        # VisibilityTimeout=0: peek without hiding, so every call sees every dead letter.
        response = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [decode_body(m["Body"]) for m in response.get("Messages", [])]

    return QueueHarness(
        queue=SqsJobQueue(sqs, queue_url, lease_s=LEASE_S),
        lease_s=LEASE_S,
        max_receives=MAX_RECEIVES,
        dead_letter_job_ids=dead_letter_job_ids,
        make_twin=lambda: SqsJobQueue(emulator.clients().sqs, queue_url, lease_s=LEASE_S),
    )


def _s3_blobs(tmp_path: Path, request: pytest.FixtureRequest) -> BlobHarness:
    import httpx

    from autovid.adapters.aws.provision import create_bucket
    from autovid.adapters.aws.s3_blobs import S3BlobStore

    emulator = request.getfixturevalue("aws_emulator")
    s3 = emulator.clients().s3
    bucket = _aws_name("bucket")
    create_bucket(s3, bucket, emulator.region)

    def fetch(url: str) -> bytes:
        # An anonymous client: the pre-signed URL alone must be enough.
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        return response.content

    return BlobHarness(blobs=S3BlobStore(s3, bucket), fetch_url=fetch, presigns_uploads=True)


STORE_BACKENDS: list[Backend] = [Backend("sqlite", _sqlite_store), Backend("dynamodb", _dynamo_store)]
QUEUE_BACKENDS: list[Backend] = [
    Backend("sqlite", _sqlite_queue, fences_stale_receipts=True),
    Backend("sqs", _sqs_queue),
]
BLOB_BACKENDS: list[Backend] = [Backend("local", _local_blobs), Backend("s3", _s3_blobs)]


@pytest.fixture(params=STORE_BACKENDS, ids=lambda b: b.name)
def job_store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    return request.param.make(tmp_path, request)


@pytest.fixture(params=QUEUE_BACKENDS, ids=lambda b: b.name)
def queue_harness(request: pytest.FixtureRequest, tmp_path: Path) -> QueueHarness:
    return request.param.make(tmp_path, request)


@pytest.fixture(params=[b for b in QUEUE_BACKENDS if b.fences_stale_receipts], ids=lambda b: b.name)
def fencing_queue_harness(request: pytest.FixtureRequest, tmp_path: Path) -> QueueHarness:
    return request.param.make(tmp_path, request)


@pytest.fixture(params=BLOB_BACKENDS, ids=lambda b: b.name)
def blob_harness(request: pytest.FixtureRequest, tmp_path: Path) -> BlobHarness:
    return request.param.make(tmp_path, request)
