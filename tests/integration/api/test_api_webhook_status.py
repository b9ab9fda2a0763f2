"""The status document says what happened to the job's webhook, over real HTTP: pending until
the job ends, then delivered, refused (and why) or failed after its attempts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from autovid.entrypoints.api.schemas import WebhookDoc
from autovid.jobs.worker import run_worker

FAST_RETRIES = {"webhook_retry_delays_s": (0.01, 0.02)}


@pytest.fixture
def api(api_factory: Any) -> Any:
    # The webhook targets are on loopback (this very API, or a closed port).
    return api_factory(FAST_RETRIES, allow_private_urls=True, allow_http=True)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused, and nobody else takes it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def submit_with_webhook(api: Any, secret: str, source: str, spec: Any, **webhook: Any) -> str:
    body = spec(source)
    body["notifications"] = {"webhook": webhook}
    with api.client(secret) as client:
        response = client.post("/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def webhook_of(api: Any, secret: str, job_id: str) -> dict[str, Any]:
    with api.client(secret) as client:
        doc = client.get(f"/status/{job_id}").json()
    assert set(doc["webhook"]) == set(WebhookDoc.model_fields)
    webhook: dict[str, Any] = doc["webhook"]
    return webhook


def drain(api: Any) -> None:
    run_worker(api.container, threading.Event(), drain=True)


def test_delivered_pending_and_none(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    # A receiver that answers 201: this API's own upload route, with the key as a custom header.
    target = f"{api.url}/assets?filename=hook.mp4"
    job_id = submit_with_webhook(api, secret, source, minimal_spec, url=target, headers={"X-API-Key": secret})
    with api.client(secret) as client:
        plain = client.post("/submit", json=minimal_spec(source)).json()

    pending = webhook_of(api, secret, job_id)
    drain(api)
    delivered = webhook_of(api, secret, job_id)

    assert pending["status"] == "pending" and pending["attempts"] == 0
    assert delivered["status"] == "delivered" and delivered["attempts"] == 1
    assert delivered["lastStatusCode"] == 201 and delivered["reason"] is None
    assert delivered["deliveredAt"] is not None and delivered["deliveredAt"] == delivered["lastAttemptAt"]
    assert plain["webhook"] is None


def test_a_4xx_answer_is_refused_with_its_status(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    job_id = submit_with_webhook(api, secret, source, minimal_spec, url=f"{api.url}/no-such-receiver")

    drain(api)
    refused = webhook_of(api, secret, job_id)

    assert refused["status"] == "refused" and refused["attempts"] == 1
    assert refused["lastStatusCode"] == 404 and "404" in refused["reason"]
    assert refused["deliveredAt"] is None


def test_connection_errors_fail_after_every_attempt(
    api: Any, tiny_video: Any, minimal_spec: Any, refusing_port: int
) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    job_id = submit_with_webhook(api, secret, source, minimal_spec, url=f"http://127.0.0.1:{refusing_port}/h")

    drain(api)
    failed = webhook_of(api, secret, job_id)

    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["lastStatusCode"] is None and "request failed" in failed["reason"]


def test_a_target_the_guard_refuses_reads_refused(
    api_factory: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    api = api_factory(FAST_RETRIES, allow_http=True)  # private addresses not allowed
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    job_id = submit_with_webhook(api, secret, source, minimal_spec, url=f"{api.url}/hook")

    drain(api)
    refused = webhook_of(api, secret, job_id)

    assert refused["status"] == "refused" and refused["attempts"] == 1 and refused["lastStatusCode"] is None


def test_a_cancelled_job_sends_none(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    job_id = submit_with_webhook(api, secret, source, minimal_spec, url=f"{api.url}/hook")
    with api.client(secret) as client:
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 200

    assert webhook_of(api, secret, job_id)["status"] == "skipped"
