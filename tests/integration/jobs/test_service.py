"""JobService: submit, get, list, cancel and the status document, on real SQLite."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from autovid.adapters.local.sqlite_queue import SqliteJobQueue
from autovid.errors import ConflictError, JobNotFoundError, SpecError, TransientStorageError
from autovid.jobs.model import JobStatus, utcnow
from autovid.jobs.service import retry_delay_s
from autovid.jobs.worker import sweep


def test_submit_records_and_enqueues_the_job(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    assert job.status == JobStatus.SUBMITTED and job.owner == "key-a"
    assert job.spec["output"]["filename"] == "my-video.mp4"  # normalised by validation
    assert job.expires_at == int(job.submitted_at.timestamp()) + env.container.settings.jobs_ttl_s
    assert env.service.get(job.job_id, owner="key-a") == job
    message = env.receive(wait_s=0)
    assert message.job_id == job.job_id


def test_submit_refuses_an_invalid_spec_with_paths(make, scripted, spec) -> None:
    env = make(scripted())
    bad = spec()
    bad["timeline"] = [{"start": -1, "type": "tts", "data": {"text": "hi"}}]
    with pytest.raises(SpecError) as caught:
        env.service.submit(bad, owner="key-a")
    assert "timeline[0].start" in [e.path for e in caught.value.errors]
    assert env.queue.counts()["visible"] == 0


def test_submit_refuses_sources_missing_from_managed_storage(make, scripted, spec) -> None:
    env = make(scripted())
    bad = spec()
    bad["assets"]["audio"] = [
        {"id": "music", "source": "assets/key-a/missing.mp3"},
        {"id": "x", "source": "assets/key-a/../../etc/passwd"},
        {"id": "y", "source": "../etc/passwd"},
    ]
    with pytest.raises(SpecError) as caught:
        env.service.submit(bad, owner="key-a")
    details = {e.path: e.message for e in caught.value.errors}
    assert "no file 'assets/key-a/missing.mp3' in managed storage" in details["assets.audio[0].source"]
    assert "'..'" in details["assets.audio[1].source"]
    assert "no file '../etc/passwd' in managed storage" in details["assets.audio[2].source"]


def test_an_idempotency_key_returns_the_first_job_and_queues_once(make, scripted, spec) -> None:
    env = make(scripted())
    first = env.service.submit(spec(), owner="key-a", idempotency_key="order-42")
    again = env.service.submit(spec(), owner="key-a", idempotency_key="order-42")
    own_copy = env.container.settings.data_dir / "copy.mp4"
    env.container.blobs.get_file("assets/key-a/base.mp4", own_copy)
    env.container.blobs.put_file("assets/key-b/base.mp4", own_copy)
    of_b = spec()
    of_b["assets"]["video"]["source"] = "assets/key-b/base.mp4"
    other = env.service.submit(of_b, owner="key-b", idempotency_key="order-42")
    assert again.job_id == first.job_id and other.job_id != first.job_id
    assert env.queue.counts()["visible"] == 2


def test_an_idempotency_key_reused_for_another_spec_is_a_conflict(make, scripted, spec) -> None:
    env = make(scripted())
    env.service.submit(spec(), owner="key-a", idempotency_key="order-43")
    changed = spec()
    changed["jobInfo"] = {"title": "a different job"}
    with pytest.raises(ConflictError, match="different job spec"):
        env.service.submit(changed, owner="key-a", idempotency_key="order-43")
    assert env.queue.counts()["visible"] == 1


def test_another_owners_job_is_not_found(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    with pytest.raises(JobNotFoundError):
        env.service.get(job.job_id, owner="key-b")
    with pytest.raises(JobNotFoundError):
        env.service.cancel(job.job_id, owner="key-b")
    with pytest.raises(JobNotFoundError):
        env.service.get("no-such-job", owner="key-a")


def test_list_pages_and_filters(make, scripted, spec) -> None:
    env = make(scripted())
    ids = [env.service.submit(spec(), owner="key-a").job_id for _ in range(5)]
    env.service.cancel(ids[1], owner="key-a")
    page1, cursor = env.service.list(owner="key-a", limit=2)
    page2, cursor2 = env.service.list(owner="key-a", limit=2, cursor=cursor)
    page3, cursor3 = env.service.list(owner="key-a", limit=2, cursor=cursor2)
    assert [j.job_id for j in page1 + page2 + page3] == ids[::-1] and cursor3 is None
    cancelled, _ = env.service.list(owner="key-a", status=JobStatus.CANCELLED)
    assert [j.job_id for j in cancelled] == [ids[1]]
    with pytest.raises(SpecError, match="cursor"):
        env.service.list(owner="key-a", cursor="not-a-cursor")
    with pytest.raises(SpecError, match="limit"):
        env.service.list(owner="key-a", limit=0)


def test_cancel_rules(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    assert env.service.cancel(job.job_id, owner="key-a").status == JobStatus.CANCELLED
    assert env.service.cancel(job.job_id, owner="key-a").status == JobStatus.CANCELLED  # idempotent
    done = env.service.submit(spec(), owner="key-a")
    env.processor.process(_message_for(env, done.job_id))
    with pytest.raises(ConflictError, match="already completed"):
        env.service.cancel(done.job_id, owner="key-a")


def test_cancel_of_a_job_whose_worker_died_is_immediate(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    env.store.update(
        job.job_id,
        {
            "status": JobStatus.PROCESSING,
            "claim_token": "dead",
            "claim_expires_at": utcnow() - timedelta(seconds=1),
        },
    )
    assert env.service.cancel(job.job_id, owner="key-a").status == JobStatus.CANCELLED


def test_status_document_of_a_new_job(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    doc = env.service.status_document(job)
    assert doc["status"] == "submitted"
    assert doc["progress"] == {"stage": "queued", "percent": 0.0}
    assert doc["output"] == {
        "url": None,
        "urlExpiresAt": None,
        "s3Uri": None,
        "duration": None,
        "size": None,
        "audio": None,
        "captions": [],
    }
    assert doc["warnings"] == []
    assert doc["completedAt"] is None and doc["processingTime"] is None and doc["error"] is None
    assert doc["submittedAt"].endswith("+00:00") and len(doc["submittedAt"]) == len(
        "2024-01-15T10:25:00.000000+00:00"
    )
    assert "metadata" not in doc
    assert env.service.status_document(job, for_webhook=True)["metadata"] == {}


def test_a_job_that_cannot_be_queued_is_failed(make, scripted, spec, tmp_path) -> None:
    class BrokenQueue(SqliteJobQueue):
        def send(self, job_id: str, *, delay_s: float = 0) -> None:
            raise TransientStorageError("queue unavailable (HTTP 503)")

    env = make(scripted())
    env.service.queue = BrokenQueue(env.container.db)
    with pytest.raises(TransientStorageError):
        env.service.submit(spec(), owner="key-a")
    (job,), _ = env.service.list(owner="key-a")
    assert job.status == JobStatus.FAILED and "could not be queued" in job.error


def test_expired_records_are_purged_by_the_sweep(make, scripted, spec) -> None:
    env = make(scripted())
    job = env.service.submit(spec(), owner="key-a")
    env.store.update(job.job_id, {"expires_at": int(time.time()) - 1})
    with pytest.raises(JobNotFoundError):
        env.service.get(job.job_id, owner="key-a")
    sweep(env.container)
    (count,) = env.container.db.connection().execute("SELECT COUNT(*) FROM jobs").fetchone()
    assert count == 0


def test_retry_delay_doubles() -> None:
    assert [retry_delay_s(5.0, n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert retry_delay_s(1.0, 2, jitter=0.5) == 3.0


def _message_for(env, job_id: str):
    message = env.receive(wait_s=0)
    while message.job_id != job_id:
        message = env.receive(wait_s=0)
    return message
