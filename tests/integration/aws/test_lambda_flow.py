"""The AWS deployment end to end on moto (server mode) with real boto3 calls: API Gateway events
to the API Lambda, SQS events to the processor Lambda, a real render (PyAV + espeak-ng), the MP4
in S3 behind a pre-signed URL, the job record in DynamoDB, a webhook on a loopback receiver."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from autovid.adapters.http.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from autovid.render.media import probe

if TYPE_CHECKING:  # fixtures come from conftest.py (importlib mode: no imports at run time)
    from collections.abc import Callable

    from conftest import Lambdas, RecordingServer

pytestmark = pytest.mark.slow


def _spec(video_source: str, *, webhook_url: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobInfo": {"projectId": "aws-test", "title": "On Lambda"},
        "assets": {"video": {"id": "main", "source": video_source}},
        "timeline": [
            {
                "start": 0.1,
                "type": "tts",
                "data": {"text": "Hi.", "providerConfig": {"voiceId": "Joanna", "engine": "neural"}},
            }
        ],
        "output": {"filename": "out.mp4", "encoding": {"preset": "ultrafast"}},
    }
    if webhook_url:
        spec["notifications"] = {
            "webhook": {"url": webhook_url, "headers": {"X-Test": "yes"}, "metadata": {"project": "demo"}}
        }
    return spec


def _upload_video(tiny_video: Path, key: str) -> None:
    """The client's side of an asset upload: PUT to a pre-signed S3 URL."""
    from autovid.entrypoints.lambdas import container

    url, _expires = container().blobs.upload_url(key, expires_s=600)  # type: ignore[attr-defined]
    httpx.put(url, content=tiny_video.read_bytes(), timeout=10).raise_for_status()


def _submit(lambdas: Lambdas, spec: dict[str, Any]) -> str:
    from autovid.entrypoints.lambdas import container

    return container().service.submit(spec, owner=lambdas.owner).job_id


def _job(job_id: str) -> Any:
    from autovid.entrypoints.lambdas import container

    return container().store.get(job_id)


def _output_versions(lambdas: Lambdas, key: str) -> int:
    listing = lambdas.clients.s3.list_object_versions(Bucket=lambdas.resources.bucket, Prefix=key)
    return len([v for v in listing.get("Versions", []) if v["Key"] == key])


def _metrics(out: str) -> dict[str, list[float]]:
    """Values of the embedded-metric-format documents Powertools Metrics printed, by name."""
    values: dict[str, list[float]] = {}
    for line in out.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        doc = json.loads(line)
        for definition in doc["_aws"]["CloudWatchMetrics"]:
            assert definition["Namespace"] == "AutoVidTest"
            for metric in definition["Metrics"]:
                value = doc[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


def test_submit_render_store_status_and_webhook(
    lambdas: Lambdas,
    lambda_env: dict[str, str],
    tiny_video: Path,
    loopback: RecordingServer,
    capsys: pytest.CaptureFixture[str],
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    resources, clients = lambdas.resources, lambdas.clients
    # GIVEN an asset uploaded through a pre-signed PUT
    _upload_video(tiny_video, f"assets/{lambdas.owner}/base.mp4")

    # WHEN a client submits through API Gateway
    submitted = lambdas.api(
        "POST", "/submit", body=_spec(f"assets/{lambdas.owner}/base.mp4", webhook_url=loopback.url("/hook"))
    )
    assert submitted["statusCode"] == 200, submitted["body"]
    doc = json.loads(submitted["body"])
    job_id = doc["jobId"]
    assert doc["status"] == "submitted"

    # THEN DynamoDB holds the record, owned by the API key's id, with a TTL
    item = clients.dynamodb.get_item(TableName=resources.table, Key={"jobId": {"S": job_id}})["Item"]
    assert item["status"]["S"] == "submitted" and item["owner"]["S"] == lambdas.owner
    assert abs(int(item["expiresAt"]["N"]) - (time.time() + 604_800)) < 120

    # AND SQS holds its message, which the processor Lambda renders
    (message,) = lambdas.receive()
    assert json.loads(message["Body"]) == {"jobId": job_id}
    capsys.readouterr()
    assert lambdas.process([message]) == {"batchItemFailures": []}
    metrics = _metrics(capsys.readouterr().out)
    (processed,) = [entry for entry in json_logs() if entry["message"] == "job processed"]
    assert processed["jobId"] == job_id and processed["outcome"] == "completed"
    assert processed["function_request_id"] and processed["service"] == "autovid"

    # THEN the status (through the API) is completed, with a pre-signed URL to the MP4 in S3
    status = lambdas.api_json("GET", f"/status/{job_id}")
    assert status["status"] == "completed", status["error"]
    assert status["progress"] == {"stage": "done", "percent": 100.0}
    key = f"outputs/{lambdas.owner}/{job_id}/out.mp4"
    assert status["output"]["s3Uri"] == f"s3://{resources.bucket}/{key}"
    stored = clients.s3.get_object(Bucket=resources.bucket, Key=key)
    stored_bytes = stored["Body"].read()
    assert stored["ContentType"] == "video/mp4"
    assert status["output"]["size"] == len(stored_bytes)
    downloaded = httpx.get(status["output"]["url"], timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == stored_bytes
    local = Path(lambda_env["AUTOVID_DATA_DIR"]) / "downloaded.mp4"
    local.write_bytes(downloaded.content)
    info = probe(local)
    assert info.video is not None and info.audio is not None
    assert abs(status["output"]["duration"] - 1.0) < 0.15

    # AND the webhook reached the receiver, signed, with the custom header and metadata
    (hook,) = loopback.received("/hook")
    payload = json.loads(hook.body)
    assert payload["jobId"] == job_id and payload["status"] == "completed"
    assert payload["metadata"] == {"project": "demo"} and "progress" not in payload
    assert payload["output"]["s3Uri"] == status["output"]["s3Uri"]
    assert hook.headers["X-Test"] == "yes"
    secret = lambda_env["AUTOVID_WEBHOOK_SECRET"].encode()
    assert verify_signature(secret, hook.headers[TIMESTAMP_HEADER], hook.body, hook.headers[SIGNATURE_HEADER])

    # AND CloudWatch metrics (EMF) were emitted for the job
    assert metrics["JobsCompleted"] == [1.0]
    assert metrics["VideoSecondsRendered"] == [pytest.approx(status["output"]["duration"])]
    assert 0 < metrics["RenderSeconds"][0] < 60
    assert "JobsFailed" not in metrics


def test_jobs_are_scoped_by_the_api_key_id(lambdas: Lambdas, tiny_video: Path) -> None:
    _upload_video(tiny_video, f"assets/{lambdas.owner}/base.mp4")
    body = _spec(f"assets/{lambdas.owner}/base.mp4")
    first = lambdas.api_json("POST", "/submit", body=body, headers={"Idempotency-Key": "k1"})
    again = lambdas.api_json("POST", "/submit", body=body, headers={"Idempotency-Key": "k1"})
    assert again["jobId"] == first["jobId"]  # one job, one message
    assert len(lambdas.receive(count=2, wait_s=2)) == 1

    assert lambdas.api("GET", f"/status/{first['jobId']}", owner="someone-else")["statusCode"] == 404
    assert [j["jobId"] for j in lambdas.api_json("GET", "/jobs")["jobs"]] == [first["jobId"]]
    assert lambdas.api_json("GET", "/jobs", owner="someone-else")["jobs"] == []


def test_a_poison_message_fails_alone_while_its_neighbour_completes(
    lambdas: Lambdas, tiny_video: Path
) -> None:
    _upload_video(tiny_video, f"assets/{lambdas.owner}/base.mp4")
    sqs, queue_url = lambdas.clients.sqs, lambdas.resources.queue_url
    # A short lease, so the message Lambda keeps comes back within the test.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "2"})
    job_id = _submit(lambdas, _spec(f"assets/{lambdas.owner}/base.mp4"))
    sqs.send_message(QueueUrl=queue_url, MessageBody="this is not a job")
    messages = lambdas.receive(count=2)
    poison = next(m for m in messages if m["Body"] == "this is not a job")

    response = lambdas.process(messages)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["MessageId"]}]}
    assert _job(job_id).status.value == "completed"
    # The poison message alone comes back after its lease; the completed job's was deleted.
    (back,) = lambdas.receive(wait_s=5)
    assert back["MessageId"] == poison["MessageId"]
    assert int(back["Attributes"]["ApproximateReceiveCount"]) == 2
    assert lambdas.receive(wait_s=1) == []  # hidden again; nothing else is left


def test_a_duplicate_delivery_renders_once(
    lambdas: Lambdas, tiny_video: Path, loopback: RecordingServer
) -> None:
    _upload_video(tiny_video, f"assets/{lambdas.owner}/base.mp4")
    job_id = _submit(lambdas, _spec(f"assets/{lambdas.owner}/base.mp4", webhook_url=loopback.url("/hook")))
    (first,) = lambdas.receive()
    # SQS delivers the same message again (at-least-once): same message id, a new receipt handle.
    lambdas.clients.sqs.change_message_visibility(
        QueueUrl=lambdas.resources.queue_url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    (second,) = lambdas.receive()
    assert second["MessageId"] == first["MessageId"] and second["ReceiptHandle"] != first["ReceiptHandle"]

    assert lambdas.process([first, second]) == {"batchItemFailures": []}
    # ... and once more after the job completed
    assert lambdas.process([second]) == {"batchItemFailures": []}

    done = _job(job_id)
    assert done.status.value == "completed" and done.attempts == 1
    assert _output_versions(lambdas, f"outputs/{lambdas.owner}/{job_id}/out.mp4") == 1
    assert len(loopback.received("/hook")) == 1
    # deleted, not merely hidden by its 30 s lease: nothing visible, in flight or delayed
    attributes = lambdas.clients.sqs.get_queue_attributes(
        QueueUrl=lambdas.resources.queue_url, AttributeNames=["All"]
    )["Attributes"]
    counts = [attributes[f"ApproximateNumberOfMessages{kind}"] for kind in ("", "NotVisible", "Delayed")]
    assert counts == ["0", "0", "0"]


def test_a_job_failing_three_receives_ends_failed_before_the_dead_letter_queue(
    lambdas: Lambdas, loopback: RecordingServer, capsys
) -> None:
    # GIVEN a video host that answers 503 every time (a retryable failure)
    loopback.always("/flaky.mp4", 503, b"busy")
    job_id = _submit(lambdas, _spec(loopback.url("/flaky.mp4"), webhook_url=loopback.url("/hook")))
    statuses = []
    capsys.readouterr()
    for receive in (1, 2, 3):
        (message,) = lambdas.receive()
        assert int(message["Attributes"]["ApproximateReceiveCount"]) == receive
        # The message stays on the queue (Lambda does not delete it) every time
        assert lambdas.process([message]) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
        statuses.append(_job(job_id).status.value)

    assert statuses == ["retrying", "retrying", "failed"]
    failed = _job(job_id)
    assert "dead-lettered after 3 failed receives" in failed.error and "503" in failed.error
    # The failure webhook went out once, before the message reached the dead-letter queue
    (hook,) = loopback.received("/hook")
    assert json.loads(hook.body)["status"] == "failed"
    assert lambdas.receive(wait_s=1.5) == []
    assert [json.loads(m["Body"])["jobId"] for m in lambdas.receive(dead_letters=True)] == [job_id]
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["JobsRetried"] == [1.0, 1.0] and metrics["JobsFailed"] == [1.0]
    assert "JobsCompleted" not in metrics


def test_an_api_upload_an_s3_source_and_a_custom_s3_destination(lambdas: Lambdas, tiny_video: Path) -> None:
    from autovid.adapters.aws.provision import create_bucket

    s3, bucket = lambdas.clients.s3, lambdas.resources.bucket
    # GIVEN an asset uploaded through the API (a binary body, base64 in the API Gateway event)
    uploaded = lambdas.api(
        "POST",
        "/assets",
        query={"filename": "base.mp4"},
        body=tiny_video.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded["statusCode"] == 201, uploaded["body"]
    asset = json.loads(uploaded["body"])
    assert asset["uri"] == f"s3://{bucket}/{asset['source']}" and asset["size"] == tiny_video.stat().st_size
    theirs = f"customer-renders-{uuid.uuid4().hex[:8]}"
    create_bucket(s3, theirs, "us-east-1")

    # WHEN a job reads it as an s3:// URI and writes to the customer's own bucket
    spec = _spec(asset["uri"])
    spec["output"]["destination"] = f"s3://{theirs}/campaign/"
    job_id = _submit(lambdas, spec)
    assert lambdas.process(lambdas.receive()) == {"batchItemFailures": []}

    # THEN the output is there, and the status links to it
    status = lambdas.api_json("GET", f"/status/{job_id}")
    assert status["status"] == "completed", status["error"]
    assert status["output"]["s3Uri"] == f"s3://{theirs}/campaign/out.mp4"
    stored = s3.get_object(Bucket=theirs, Key="campaign/out.mp4")["Body"].read()
    assert httpx.get(status["output"]["url"], timeout=10).content == stored
    assert s3.list_objects_v2(Bucket=bucket, Prefix="outputs/").get("KeyCount", 0) == 0


def test_a_store_failure_around_a_job_returns_its_message_at_once(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.adapters.aws.sqs_queue import encode_body
    from autovid.entrypoints.lambdas import container

    # GIVEN a processor whose jobs table is missing (the store raises around the job)
    monkeypatch.setenv("DYNAMODB_JOBS_TABLE_NAME", "no-such-table")
    container.cache_clear()
    lambdas.clients.sqs.send_message(QueueUrl=lambdas.resources.queue_url, MessageBody=encode_body("job-x"))
    (message,) = lambdas.receive()

    # THEN the message is reported failed and released now, not after the queue's visibility timeout
    assert lambdas.process([message]) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    (again,) = lambdas.receive(wait_s=3)
    assert again["MessageId"] == message["MessageId"]


def test_a_large_asset_goes_straight_to_s3_through_a_presigned_put(
    lambdas: Lambdas, tiny_video: Path
) -> None:
    # GIVEN an upload URL from the API (bodies over 10 MB cannot pass through API Gateway)
    answer = lambdas.api("POST", "/assets/upload-url", query={"filename": "base.mp4"})
    assert answer["statusCode"] == 201, answer["body"]
    upload = json.loads(answer["body"])
    assert upload["method"] == "PUT" and upload["source"].startswith("assets/")

    # WHEN the client PUTs the bytes to it and submits a spec naming the returned source
    put = httpx.put(
        upload["uploadUrl"], content=tiny_video.read_bytes(), headers=upload["headers"], timeout=10
    )
    assert put.status_code == 200, put.text
    job_id = _submit(lambdas, _spec(upload["source"]))
    assert lambdas.process(lambdas.receive()) == {"batchItemFailures": []}

    # THEN the job rendered from the uploaded object
    assert lambdas.api_json("GET", f"/status/{job_id}")["status"] == "completed"
