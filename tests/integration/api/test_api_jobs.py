"""Submit, status, list, cancel and idempotency over real HTTP."""

from __future__ import annotations

import threading
from typing import Any

from autovid.entrypoints.api.schemas import StatusDoc
from autovid.jobs.model import JobStatus
from autovid.jobs.worker import run_worker

SEED_FIELDS = set(StatusDoc.model_fields)  # the published document, nothing more or less


def drain(api: Any) -> int:
    """Run one worker over the queue until it is empty (no worker runs otherwise)."""
    return run_worker(api.container, threading.Event(), drain=True)


def submit(client: Any, spec: dict[str, Any], **headers: str) -> Any:
    return client.post("/submit", json=spec, headers=headers)


def test_submit_returns_the_status_document_and_status_reads_it_back(
    api: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        submitted = submit(client, minimal_spec(source))
        job_id = submitted.json()["jobId"]
        status = client.get(f"/status/{job_id}")

    assert submitted.status_code == 200
    doc = submitted.json()
    assert set(doc) == SEED_FIELDS
    assert doc["status"] == "submitted"
    assert doc["jobInfo"] == {"projectId": "demo_project", "title": "Welcome Video"}
    assert doc["output"] == {
        "url": None,
        "urlExpiresAt": None,
        "s3Uri": None,
        "duration": None,
        "size": None,
        "audio": None,
        "captions": [],
    }
    assert doc["progress"] == {"stage": "queued", "percent": 0.0}
    assert status.status_code == 200 and status.json() == doc


def test_a_completed_job_has_an_output_url_and_the_seeds_fields(
    api: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    key_id, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        job_id = submit(client, minimal_spec(source)).json()["jobId"]
        drain(api)
        doc = client.get(f"/status/{job_id}").json()

    assert doc["status"] == "completed", doc["error"]
    assert doc["completedAt"] is not None and doc["processingTime"] is not None
    assert doc["output"]["url"].startswith(f"{api.url}/files/outputs/{key_id}/{job_id}/my-video.mp4?")
    assert doc["output"]["urlExpiresAt"] is not None
    assert doc["output"]["duration"] == 1.0 and doc["output"]["size"] > 0


def test_another_key_cannot_see_or_cancel_a_job(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, owner = api.new_key()
    _, stranger = api.new_key()
    source = api.upload_video(owner, tiny_video)
    with api.client(owner) as a, api.client(stranger) as b:
        job_id = submit(a, minimal_spec(source)).json()["jobId"]
        seen = b.get(f"/status/{job_id}")
        cancelled = b.post(f"/jobs/{job_id}/cancel")
        listed = b.get("/jobs").json()
        still = a.get(f"/status/{job_id}").json()

    assert seen.status_code == 404
    assert seen.json() == {"error": "Job not found", "jobId": job_id}
    assert cancelled.status_code == 404
    assert listed["jobs"] == []
    assert still["status"] == "submitted"


def test_an_unknown_job_is_404(api: Any) -> None:
    _, secret = api.new_key()
    with api.client(secret) as client:
        response = client.get("/status/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"] == "Job not found"


def test_a_repeated_idempotency_key_returns_the_same_job_once(
    api: Any, tiny_video: Any, minimal_spec: Any
) -> None:
    _, secret = api.new_key()
    _, other = api.new_key()
    source = api.upload_video(secret, tiny_video)
    source_b = api.upload_video(other, tiny_video)
    with api.client(secret) as client, api.client(other) as client_b:
        first = submit(client, minimal_spec(source), **{"Idempotency-Key": "order-42"}).json()
        again = submit(client, minimal_spec(source), **{"Idempotency-Key": "order-42"}).json()
        fresh = submit(client, minimal_spec(source), **{"Idempotency-Key": "order-43"}).json()
        other_owner = submit(client_b, minimal_spec(source_b), **{"Idempotency-Key": "order-42"}).json()
        handled = drain(api)

    assert again["jobId"] == first["jobId"]
    assert fresh["jobId"] != first["jobId"]
    assert other_owner["jobId"] != first["jobId"]  # idempotency keys are per API key
    assert handled == 3 and api.render.calls == 3


def test_list_filters_by_status_and_pages_newest_first(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        ids = [submit(client, minimal_spec(source)).json()["jobId"] for _ in range(5)]
        client.post(f"/jobs/{ids[0]}/cancel")
        first = client.get("/jobs", params={"limit": 2}).json()
        second = client.get("/jobs", params={"limit": 2, "cursor": first["nextCursor"]}).json()
        third = client.get("/jobs", params={"limit": 2, "cursor": second["nextCursor"]}).json()
        cancelled = client.get("/jobs", params={"status": "cancelled"}).json()
        submitted = client.get("/jobs", params={"status": "submitted"}).json()

    paged = [j["jobId"] for page in (first, second, third) for j in page["jobs"]]
    assert paged == list(reversed(ids))
    assert third["nextCursor"] is None
    assert [j["jobId"] for j in cancelled["jobs"]] == [ids[0]]
    assert {j["jobId"] for j in submitted["jobs"]} == set(ids[1:])


def test_bad_list_parameters_are_400_with_details(api: Any) -> None:
    _, secret = api.new_key()
    with api.client(secret) as client:
        bad_status = client.get("/jobs", params={"status": "done"})
        bad_limit = client.get("/jobs", params={"limit": 0})
        bad_cursor = client.get("/jobs", params={"cursor": "garbage"})

    for response, path in ((bad_status, "query.status"), (bad_limit, "query.limit"), (bad_cursor, "cursor")):
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "Validation failed"
        assert body["details"][0]["path"] == path
    assert "completed" in bad_status.json()["details"][0]["message"]  # lists what is allowed


def test_a_cancelled_queued_job_never_renders(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        job_id = submit(client, minimal_spec(source)).json()["jobId"]
        cancelled = client.post(f"/jobs/{job_id}/cancel")
        drain(api)
        after = client.get(f"/status/{job_id}").json()
        again = client.post(f"/jobs/{job_id}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert api.render.calls == 0
    assert after["status"] == "cancelled" and after["output"]["url"] is None
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_cancelling_a_finished_job_is_a_409(api: Any, tiny_video: Any, minimal_spec: Any) -> None:
    _, secret = api.new_key()
    source = api.upload_video(secret, tiny_video)
    with api.client(secret) as client:
        job_id = submit(client, minimal_spec(source)).json()["jobId"]
        drain(api)
        response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert "completed" in response.json()["message"]
    assert api.container.service.get(job_id, owner=api.container.store.get(job_id).owner).status == (
        JobStatus.COMPLETED
    )
