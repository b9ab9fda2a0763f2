"""Webhook delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest

from autovid.adapters.http.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HttpWebhookSender,
    verify_signature,
)
from autovid.entrypoints.api.schemas import OutputDoc, StatusDoc
from autovid.jobs.model import JobStatus

SECRET = b"w" * 32
# The webhook carries the status document without its progress and its own delivery outcome,
# plus the spec's metadata.
SEED_KEYS = set(StatusDoc.model_fields) - {"progress", "webhook"} | {"metadata"}
SEED_OUTPUT_KEYS = set(OutputDoc.model_fields)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def sender(sleeps: list[float]) -> HttpWebhookSender:
    return HttpWebhookSender(
        SECRET,
        retry_delays_s=(0.01, 0.02, 0.04),
        timeout_s=0.5,
        allow_private=True,
        allow_http=True,
        sleep=lambda s: (sleeps.append(s), time.sleep(s))[-1],
    )


def test_the_signature_verifies_over_timestamp_and_body(sender, webhook_receiver) -> None:
    delivery = sender.deliver(webhook_receiver.url("/ok"), {"jobId": "j1", "status": "completed"})
    assert delivery.delivered and delivery.attempts == 1 and delivery.status_code == 200
    (request,) = webhook_receiver.received()
    timestamp = request.headers[TIMESTAMP_HEADER]
    assert abs(int(timestamp) - time.time()) < 5
    assert request.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert verify_signature(SECRET, timestamp, request.body, request.headers[SIGNATURE_HEADER])
    assert not verify_signature(b"x" * 32, timestamp, request.body, request.headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, timestamp, request.body + b" ", request.headers[SIGNATURE_HEADER])
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"jobId": "j1", "status": "completed"}


def test_a_4xx_answer_is_not_retried(sender, webhook_receiver, sleeps) -> None:
    webhook_receiver.answer("/gone", 410, 410, 410)
    delivery = sender.deliver(webhook_receiver.url("/gone"), {"jobId": "j1"})
    assert not delivery.delivered
    assert delivery.attempts == 1 and delivery.status_code == 410 and "410" in delivery.error
    assert len(webhook_receiver.received("/gone")) == 1
    assert sleeps == []


def test_a_5xx_answer_is_retried_three_times_with_backoff(sender, webhook_receiver, sleeps) -> None:
    webhook_receiver.answer("/flaky", 503, 502, 500)
    delivery = sender.deliver(webhook_receiver.url("/flaky"), {"jobId": "j1"})
    assert not delivery.delivered and delivery.attempts == 3 and delivery.status_code == 500
    assert len(webhook_receiver.received("/flaky")) == 3
    assert sleeps == [0.01, 0.02]


def test_a_5xx_then_success_is_delivered(sender, webhook_receiver, sleeps) -> None:
    webhook_receiver.answer("/flaky", 503)
    delivery = sender.deliver(webhook_receiver.url("/flaky"), {"jobId": "j1"})
    assert delivery.delivered and delivery.attempts == 2 and delivery.error is None


def test_timeouts_are_retried(sender, webhook_receiver) -> None:
    webhook_receiver.slow("/slow", 1.0, b"")
    delivery = sender.deliver(webhook_receiver.url("/slow"), {"jobId": "j1"})
    assert not delivery.delivered and delivery.attempts == 3
    assert delivery.error == "timed out after 0.5 s"


def closed_port() -> int:
    """A port nothing listens on: bound, then released (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_errors_are_retried(sender) -> None:
    delivery = sender.deliver(f"http://127.0.0.1:{closed_port()}/x", {"jobId": "j1"})
    assert not delivery.delivered and delivery.attempts == 3 and delivery.status_code is None
    assert "request failed" in delivery.error


def test_custom_headers_and_put(sender, webhook_receiver) -> None:
    sender.deliver(
        webhook_receiver.url("/put"),
        {"jobId": "j1"},
        method="PUT",
        headers={"Authorization": "Bearer abc", "X-Trace": "t-1", "Content-Type": "text/evil"},
    )
    (request,) = webhook_receiver.received()
    assert request.method == "PUT"
    assert request.headers["Authorization"] == "Bearer abc" and request.headers["X-Trace"] == "t-1"
    assert request.headers["Content-Type"] == "application/json"  # a spec cannot change the body type


def test_a_spec_cannot_forge_the_signature_headers(sender, webhook_receiver) -> None:
    sender.deliver(webhook_receiver.url("/x"), {"a": 1}, headers={SIGNATURE_HEADER: "sha256=forged"})
    (request,) = webhook_receiver.received()
    assert request.headers[SIGNATURE_HEADER] != "sha256=forged"
    assert verify_signature(
        SECRET, request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER]
    )


def test_private_targets_are_refused_unless_allowed(webhook_receiver, sleeps) -> None:
    guarded = HttpWebhookSender(SECRET, allow_private=False, allow_http=True, sleep=sleeps.append)
    delivery = guarded.deliver(webhook_receiver.url("/internal"), {"jobId": "j1"})
    assert not delivery.delivered and delivery.attempts == 1 and delivery.status_code is None
    assert "127.0.0.1" in delivery.error or "loopback" in delivery.error
    assert webhook_receiver.received() == [] and sleeps == []


def test_the_job_webhook_payload_has_exactly_the_seed_shape(make, scripted, spec, webhook_receiver) -> None:
    env = make(scripted())
    job = env.service.submit(
        spec(
            webhook_receiver.url("/done"),
            method="PUT",
            headers={"X-Api-Token": "secret-token"},
            metadata={"project": "demo", "priority": "high", "n": 3, "ok": True},
        ),
        owner="key-a",
    )
    env.processor.process(env.receive())
    (request,) = webhook_receiver.received("/done")
    assert request.method == "PUT" and request.headers["X-Api-Token"] == "secret-token"
    payload = request.json()
    assert set(payload) == SEED_KEYS
    assert set(payload["output"]) == SEED_OUTPUT_KEYS
    assert payload["jobId"] == job.job_id and payload["status"] == "completed"
    assert payload["metadata"] == {"project": "demo", "priority": "high", "n": 3, "ok": True}
    assert payload["jobInfo"] == {"projectId": "demo_project", "title": "Welcome Video"}
    assert payload["error"] is None and payload["output"]["duration"] == 1.0
    assert isinstance(payload["processingTime"], float)
    for key in ("submittedAt", "updatedAt", "completedAt", "output"):
        assert payload[key] is not None
    record = env.service.get(job.job_id, owner="key-a")
    assert record.status == JobStatus.COMPLETED
    assert record.webhook_delivery["delivered"] is True and record.webhook_delivery["method"] == "PUT"


def test_an_undelivered_webhook_is_recorded_and_the_job_stays_completed(
    make, scripted, spec, webhook_receiver
) -> None:
    env = make(scripted())
    webhook_receiver.answer("/broken", 500, 500, 500)
    job = env.service.submit(spec(webhook_receiver.url("/broken")), owner="key-a")
    env.processor.process(env.receive())
    record = env.service.get(job.job_id, owner="key-a")
    assert record.status == JobStatus.COMPLETED
    assert record.webhook_delivery["delivered"] is False
    assert record.webhook_delivery["attempts"] == 3 and record.webhook_delivery["statusCode"] == 500
    assert record.progress.stage == "done"
