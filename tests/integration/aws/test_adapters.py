"""S3, SQS and DynamoDB adapter behaviour beyond the shared contract suite, on a moto server."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig

from autovid.adapters.aws.clients import make_clients
from autovid.adapters.aws.dynamo_jobs import DynamoJobStore
from autovid.adapters.aws.emulator import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from autovid.adapters.aws.provision import Resources, create_bucket
from autovid.adapters.aws.s3_blobs import S3BlobStore
from autovid.adapters.aws.sqs_queue import SqsJobQueue
from autovid.config import Settings
from autovid.errors import ConflictError, StorageError, TransientStorageError
from autovid.jobs.model import Job, JobStatus

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from autovid.adapters.aws.clients import AwsClients
    from autovid.adapters.aws.emulator import Emulator

MIB = 1024 * 1024


# --- S3 ------------------------------------------------------------------------------------------


def test_large_files_upload_in_parts(clients: AwsClients, resources: Resources, tmp_path: Path) -> None:
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    blobs = S3BlobStore(clients.s3, resources.bucket, transfer_config=config)
    source = tmp_path / "big.mp4"
    source.write_bytes(bytes(range(256)) * (6 * MIB // 256 + 1))
    blobs.put_file("outputs/j/big.mp4", source, content_type="video/mp4")
    head = clients.s3.head_object(Bucket=resources.bucket, Key="outputs/j/big.mp4")
    assert head["ETag"].strip('"').endswith("-2")  # S3's mark of a two-part upload
    assert head["ContentType"] == "video/mp4" and blobs.size("outputs/j/big.mp4") == source.stat().st_size
    blobs.get_file("outputs/j/big.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == source.read_bytes()
    assert not list(tmp_path.glob(".back.mp4.*"))  # no partial file left behind


def test_s3_uris_reach_other_buckets_but_stay_confined_in_the_managed_one(
    clients: AwsClients, resources: Resources, emulator: Emulator, tmp_path: Path
) -> None:
    theirs = f"customer-renders-{uuid.uuid4().hex[:8]}"
    create_bucket(clients.s3, theirs, emulator.region)
    blobs = S3BlobStore(clients.s3, resources.bucket)
    (tmp_path / "v.mp4").write_bytes(b"video")
    blobs.put_file(f"s3://{theirs}/campaign/v.mp4", tmp_path / "v.mp4")
    assert blobs.uri(f"s3://{theirs}/campaign/v.mp4") == f"s3://{theirs}/campaign/v.mp4"
    url, _ = blobs.download_url(f"s3://{theirs}/campaign/v.mp4", expires_s=60)
    assert httpx.get(url, timeout=10).content == b"video"
    assert blobs.uri("outputs/x.mp4") == f"s3://{resources.bucket}/outputs/x.mp4"
    with pytest.raises(StorageError, match="must start with"):
        blobs.put_file(f"s3://{resources.bucket}/secrets/v.mp4", tmp_path / "v.mp4")
    locked = S3BlobStore(clients.s3, resources.bucket, allow_other_buckets=False)
    with pytest.raises(StorageError, match="only the managed bucket"):
        locked.put_file(f"s3://{theirs}/campaign/v.mp4", tmp_path / "v.mp4")


def test_upload_urls_accept_a_put_of_an_asset_only(clients: AwsClients, resources: Resources) -> None:
    blobs = S3BlobStore(clients.s3, resources.bucket)
    url, expires_at = blobs.upload_url("assets/music.mp3", expires_s=300, content_type="audio/mpeg")
    assert 290 <= (expires_at.timestamp() - time.time()) <= 310
    response = httpx.put(url, content=b"ID3 music", headers={"Content-Type": "audio/mpeg"}, timeout=10)
    assert response.status_code == 200
    assert blobs.exists("assets/music.mp3") and blobs.size("assets/music.mp3") == 9
    with pytest.raises(StorageError, match="uploads go to keys under 'assets/'"):
        blobs.upload_url("outputs/j/out.mp4", expires_s=300)
    with pytest.raises(StorageError, match="lifetime"):
        blobs.upload_url("assets/x.mp3", expires_s=8 * 86_400)


def test_s3_errors_become_typed_errors(clients: AwsClients, resources: Resources, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(StorageError, match="NoSuchBucket"):
        S3BlobStore(clients.s3, "no-such-bucket-here").put_file("assets/a", tmp_path / "a")
    unreachable = _unreachable_clients(resources)
    with pytest.raises(TransientStorageError, match="try again later"):
        S3BlobStore(unreachable.s3, resources.bucket).size("assets/a")


# --- SQS -----------------------------------------------------------------------------------------


def test_a_malformed_message_is_left_for_the_dead_letter_queue(
    clients: AwsClients, resources: Resources
) -> None:
    queue = SqsJobQueue(clients.sqs, resources.queue_url, lease_s=1)
    clients.sqs.send_message(QueueUrl=resources.queue_url, MessageBody="garbage")
    queue.send("job-1", delay_s=5000)  # beyond SQS's 900 s limit: clamped, not refused
    queue.send("job-2")
    received = queue.receive(max_messages=10, wait_s=1)
    assert [m.job_id for m in received] == ["job-2"]
    queue.delete(received[0])
    assert queue.was_deleted(received[0]) and not queue.was_deleted(received[0])
    with pytest.raises(ConflictError):
        queue.release(received[0], delay_s=0)


# --- DynamoDB ------------------------------------------------------------------------------------


def test_concurrent_submits_with_one_idempotency_key_make_one_job(
    clients: AwsClients, resources: Resources
) -> None:
    store = DynamoJobStore(clients.dynamodb, resources.table)
    results: list[str] = []
    barrier = threading.Barrier(5)

    def submit(i: int) -> None:
        job = Job(
            job_id=f"j{i}", owner="key-a", spec={}, idempotency_key="same", expires_at=int(time.time()) + 60
        )
        barrier.wait()
        results.append(store.create(job).job_id)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 5 and len(set(results)) == 1
    assert [j.job_id for j in store.list("key-a")[0]] == results[:1]


def test_status_filtered_pages_skip_over_non_matching_jobs(clients: AwsClients, resources: Resources) -> None:
    store = DynamoJobStore(clients.dynamodb, resources.table)
    for i in range(12):
        store.create(Job(job_id=f"j{i:02d}", owner="key-a", spec={}))
        if i % 4 == 0:
            store.update(f"j{i:02d}", {"status": JobStatus.FAILED})
    seen, cursor = [], None
    while True:
        page, cursor = store.list("key-a", status=JobStatus.FAILED, limit=2, cursor=cursor)
        seen += [j.job_id for j in page]
        if cursor is None:
            break
    assert seen == ["j08", "j04", "j00"]


def test_dynamodb_errors_become_typed_errors(resources: Resources) -> None:
    store = DynamoJobStore(_unreachable_clients(resources).dynamodb, resources.table)
    with pytest.raises(TransientStorageError):
        store.get("j1")


# --- wiring --------------------------------------------------------------------------------------


def test_bootstrap_builds_the_aws_adapters_from_settings(
    emulator: Emulator, resources: Resources, tmp_path: Path
) -> None:
    from autovid.bootstrap import bootstrap

    settings = Settings(
        AUTOVID_BACKEND="aws",
        APP_AWS_REGION="eu-west-1",
        AUTOVID_AWS_ENDPOINT_URL=emulator.endpoint_url,
        AUTOVID_DATA_DIR=tmp_path,
        **resources.environment(),
    )
    container = bootstrap(settings)
    assert isinstance(container.store, DynamoJobStore) and container.store.table == resources.table
    assert isinstance(container.queue, SqsJobQueue) and isinstance(container.blobs, S3BlobStore)
    assert container.speech_engine._engine is None  # type: ignore[union-attr]  # built when first used
    engine = container.speech_engine.engine  # type: ignore[union-attr]
    from autovid.adapters.aws.polly import PollyEngine

    assert isinstance(engine, PollyEngine) and container.speech_engine.name == "aws-polly"  # the AWS default
    for client in (container.blobs.client, container.store.client, engine.client):
        assert client.meta.endpoint_url == emulator.endpoint_url
        assert client.meta.region_name == "eu-west-1"
    assert container.processor.assets._transports["s3"]._client is container.blobs.client  # s3:// assets too


def _unreachable_clients(resources: Resources) -> AwsClients:
    # A port nobody listens on: connection refused, quickly.
    settings = Settings(AUTOVID_AWS_ENDPOINT_URL="http://127.0.0.1:9", **resources.environment())
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        region_name="us-east-1",
    )
    return make_clients(settings, session=session)
