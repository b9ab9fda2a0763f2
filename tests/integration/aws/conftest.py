"""Fixtures for the AWS deployment tests: moto in server mode (once per module) with fresh
resources per test, the environment a Lambda would have, API Gateway and SQS events, a Lambda
context, and a loopback HTTP server that receives webhooks and can play a failing asset host."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from autovid import samples
from autovid.adapters.aws.clients import AwsClients
from autovid.adapters.aws.emulator import Emulator, environment, start
from autovid.adapters.aws.provision import Resources, provision
from tests.aws_iam import CallWatch, allowed_actions, template_role, watch_calls

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

MAX_RECEIVES = 3
WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    server = start()
    yield server
    server.stop()


@pytest.fixture
def clients(emulator: Emulator) -> AwsClients:
    return emulator.clients()


@pytest.fixture
def resources(emulator: Emulator, clients: AwsClients) -> Resources:
    suffix = uuid.uuid4().hex[:10]
    created = provision(
        clients,
        bucket=f"autovid-test-{suffix}",
        queue=f"autovid-jobs-{suffix}",
        table=f"autovid-jobs-{suffix}",
        batches_table=f"autovid-batches-{suffix}",
        region=emulator.region,
        max_receives=MAX_RECEIVES,
        visibility_timeout_s=30,
    )
    # Versioning lets a test count how many times an output was written.
    clients.s3.put_bucket_versioning(Bucket=created.bucket, VersioningConfiguration={"Status": "Enabled"})
    return created


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, resources: Resources, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The processor's and the API's environment, pointed at moto; the cached container is
    rebuilt for every test (a cold start)."""
    from autovid.entrypoints.lambdas import api, container

    env = {
        **environment(emulator, resources),
        "AWS_SESSION_TOKEN": "testing",
        "AUTOVID_DATA_DIR": str(tmp_path / "lambda-tmp"),
        "AUTOVID_TTS_ENGINE": "espeak",  # Polly cannot be reached from here
        "AUTOVID_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUTOVID_ALLOW_PRIVATE_URLS": "true",  # the webhook receiver and asset host are on 127.0.0.1
        "AUTOVID_ALLOW_HTTP": "true",
        "AUTOVID_MAX_RECEIVES": str(MAX_RECEIVES),
        "AUTOVID_RETRY_BASE_DELAY": "0",
        "AUTOVID_FETCH_RETRIES": "0",
        "AUTOVID_LEASE_SECONDS": "30",
        "S3_PRESIGNED_URL_EXPIRATION": "3600",
        "POWERTOOLS_METRICS_NAMESPACE": "AutoVidTest",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    container.cache_clear()
    api.asgi_adapter.cache_clear()
    yield env
    container.cache_clear()
    api.asgi_adapter.cache_clear()
    logging.getLogger("autovid").propagate = True  # undo the cold start's logging set-up


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "base.mp4"
    return samples.make_video(path, duration_s=1.0, fps=10, width=160, height=120)


# --- Lambda events -----------------------------------------------------------------------------


def api_event(
    method: str,
    path: str,
    *,
    api_key_id: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event, after API Gateway checked the key."""
    from autovid.entrypoints.lambdas.local import gateway_event

    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    all_headers = {"Host": "api.example.test", "X-API-Key": "the-secret-key-value", **(headers or {})}
    if raw is not None:
        all_headers.setdefault("Content-Type", "application/json")
    return gateway_event(
        method,
        path,
        api_key_id=api_key_id,
        query={k: [v] for k, v in (query or {}).items()},
        headers=all_headers,
        body=raw,
        stage="prod",
    )


def response_json(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def receive_raw(clients: AwsClients, queue_url: str, *, count: int = 1, wait_s: float = 5.0) -> list[dict]:
    """What the event source mapping does: receive messages with their system attributes."""
    got: list[dict] = []
    deadline = time.monotonic() + wait_s
    while len(got) < count and time.monotonic() < deadline:
        response = clients.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(got)),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        )
        got += response.get("Messages", [])
    return got


# --- a loopback HTTP server ----------------------------------------------------------------------


@pytest.fixture
def loopback(recording_server: Callable[..., RecordingServer]) -> RecordingServer:
    """A real HTTP server (tests/conftest.py) that records every request and answers 204 unless
    a route says otherwise."""
    return recording_server(default_status=204)


# --- the Lambdas, invoked as Lambda would ---------------------------------------------------------


class Lambdas:
    """Invoke the API and processor handlers with events built from real moto state. Every AWS
    call a handler makes is recorded against its role (``calls``)."""

    def __init__(self, clients: AwsClients, resources: Resources, owner: str, calls: CallWatch) -> None:
        self.clients = clients
        self.resources = resources
        self.owner = owner
        self.calls = calls
        arn = clients.sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = arn["Attributes"]["QueueArn"]

    def api(self, method: str, path: str, *, owner: str | None = None, **kwargs: Any) -> dict[str, Any]:
        from autovid.entrypoints.lambdas.api import handler
        from autovid.entrypoints.lambdas.local import LocalContext

        event = api_event(method, path, api_key_id=owner or self.owner, **kwargs)
        with self.calls.as_role("ApiRole"):
            response: dict[str, Any] = handler(event, LocalContext())
        return response

    def api_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return response_json(self.api(method, path, **kwargs))

    def receive(self, *, count: int = 1, wait_s: float = 5.0, dead_letters: bool = False) -> list[dict]:
        url = self.resources.dead_letter_queue_url if dead_letters else self.resources.queue_url
        return receive_raw(self.clients, url, count=count, wait_s=wait_s)

    def process(self, messages: list[dict]) -> dict[str, Any]:
        from autovid.entrypoints.lambdas.local import LocalContext, sqs_event
        from autovid.entrypoints.lambdas.processor import handler

        event = sqs_event(messages, self.queue_arn, "us-east-1")
        with self.calls.as_role("ProcessorRole"):
            response: dict[str, Any] = handler(event, LocalContext())
        return response


@pytest.fixture
def lambdas(
    lambda_env: dict[str, str], clients: AwsClients, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lambdas]:
    calls = watch_calls(monkeypatch)
    yield Lambdas(clients, resources, owner="apikey-id-a1b2c3", calls=calls)
    # moto checks no IAM: each call the handlers made must be one their role in template.yaml allows.
    for role, needed in calls.needed.items():
        assert needed - allowed_actions(template_role(role)) == set(), role


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines (Powertools' format) of every ``autovid.*`` logger during the test."""
    from autovid.entrypoints.lambdas import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger("autovid").addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logging.getLogger("autovid").removeHandler(handler)
