"""The JobStore contract, run against every implementation in ``conftest.STORE_BACKENDS``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from autovid.errors import ConflictError, JobNotFoundError
from autovid.jobs.model import Job, JobStatus, OutputInfo, Progress
from autovid.ports import JobStore

T0 = datetime(2024, 1, 15, 10, 25, 0, 123456, tzinfo=UTC)


def make_job(job_id: str, *, owner: str = "key-a", minutes: int = 0, **fields: object) -> Job:
    at = T0 + timedelta(minutes=minutes)
    fields.setdefault("expires_at", int(time.time()) + 3600)
    spec = {"output": {"filename": "x.mp4"}, "jobInfo": {"title": job_id}}
    return Job(
        job_id=job_id,
        owner=owner,
        spec=spec,
        submitted_at=at,
        updated_at=at,
        **fields,  # type: ignore[arg-type]
    )


def test_create_then_get_round_trips_every_field(job_store: JobStore) -> None:
    job = make_job(
        "j1",
        status=JobStatus.COMPLETED,
        started_at=T0 + timedelta(seconds=1),
        completed_at=T0 + timedelta(seconds=9, microseconds=1),
        processing_time_s=8.125,
        progress=Progress("done", 100.0),
        output=OutputInfo("outputs/j1/x.mp4", 2.5, 12345, None),
        error=None,
        attempts=2,
        webhook_delivery={"delivered": True, "attempts": 1, "statusCode": 204},
        idempotency_key="idem-1",
        claim_token=None,
        claim_holder="boot/4026531836/1234/56789",
    )
    job_store.create(job)
    got = job_store.get("j1")
    assert got == job


def test_get_unknown_job_is_none(job_store: JobStore) -> None:
    assert job_store.get("nope") is None


def test_update_applies_changes_and_bumps_updated_at(job_store: JobStore) -> None:
    job_store.create(make_job("j1"))
    updated = job_store.update("j1", {"status": JobStatus.PROCESSING, "attempts": 1})
    assert updated.status == JobStatus.PROCESSING and updated.attempts == 1
    assert updated.updated_at > T0
    assert job_store.get("j1") == updated


def test_conditional_update_on_status(job_store: JobStore) -> None:
    job_store.create(make_job("j1"))
    with pytest.raises(ConflictError):
        job_store.update("j1", {"status": JobStatus.COMPLETED}, expect_status=(JobStatus.PROCESSING,))
    assert job_store.get("j1").status == JobStatus.SUBMITTED  # type: ignore[union-attr]
    job_store.update("j1", {"status": JobStatus.PROCESSING}, expect_status=(JobStatus.SUBMITTED,))
    assert job_store.get("j1").status == JobStatus.PROCESSING  # type: ignore[union-attr]


def test_conditional_update_on_field_values(job_store: JobStore) -> None:
    job_store.create(make_job("j1", claim_token="mine"))
    with pytest.raises(ConflictError):
        job_store.update("j1", {"attempts": 5}, expect={"claim_token": "theirs"})
    job_store.update("j1", {"claim_token": None}, expect={"claim_token": "mine"})
    with pytest.raises(ConflictError):
        job_store.update("j1", {"attempts": 5}, expect={"claim_token": "mine"})
    assert job_store.get("j1").attempts == 0  # type: ignore[union-attr]


def test_update_unknown_job_raises_not_found(job_store: JobStore) -> None:
    with pytest.raises(JobNotFoundError):
        job_store.update("nope", {"attempts": 1})


def test_only_one_of_many_concurrent_claims_wins(job_store: JobStore) -> None:
    job_store.create(make_job("j1"))
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def claim(token: str) -> None:
        barrier.wait()
        try:
            job_store.update(
                "j1",
                {"status": JobStatus.PROCESSING, "claim_token": token},
                expect_status=(JobStatus.SUBMITTED,),
                expect={"claim_token": None},
            )
        except ConflictError:
            return
        winners.append(token)

    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert job_store.get("j1").claim_token == winners[0]  # type: ignore[union-attr]


def test_list_pages_newest_first_with_cursor(job_store: JobStore) -> None:
    for i in range(7):
        job_store.create(make_job(f"j{i}", minutes=i))
    job_store.create(make_job("other", owner="key-b", minutes=99))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = job_store.list("key-a", limit=3, cursor=cursor)
        seen += [j.job_id for j in page]
        pages += 1
        if cursor is None:
            break
    assert seen == [f"j{i}" for i in reversed(range(7))]
    assert pages == 3


def test_list_filters_by_status(job_store: JobStore) -> None:
    for i in range(4):
        job_store.create(make_job(f"j{i}", minutes=i))
    job_store.update("j1", {"status": JobStatus.FAILED})
    job_store.update("j3", {"status": JobStatus.FAILED})
    failed, cursor = job_store.list("key-a", status=JobStatus.FAILED)
    assert [j.job_id for j in failed] == ["j3", "j1"] and cursor is None
    submitted, _ = job_store.list("key-a", status=JobStatus.SUBMITTED, limit=1)
    assert [j.job_id for j in submitted] == ["j2"]


def test_list_of_owner_without_jobs_is_empty(job_store: JobStore) -> None:
    job_store.create(make_job("j1"))
    assert job_store.list("key-z") == ([], None)


def test_idempotency_key_returns_the_first_job(job_store: JobStore) -> None:
    first = job_store.create(make_job("j1", idempotency_key="k"))
    again = job_store.create(make_job("j2", idempotency_key="k"))
    assert again.job_id == first.job_id == "j1"
    assert job_store.get("j2") is None
    other_owner = job_store.create(make_job("j3", owner="key-b", idempotency_key="k"))
    assert other_owner.job_id == "j3"
    no_key = job_store.create(make_job("j4"))
    assert no_key.job_id == "j4"


def test_get_many_finds_each_live_job_once_in_pages_past_a_backend_call(job_store: JobStore) -> None:
    job_store.create_many([make_job(f"row-{i:03d}", minutes=i) for i in range(130)])  # > 100: two calls
    job_store.create(make_job("old", expires_at=int(time.time()) - 1))
    wanted = [f"row-{i:03d}" for i in range(130)] + ["row-007", "missing", "old"]

    found = job_store.get_many(wanted)

    assert sorted(found) == [f"row-{i:03d}" for i in range(130)]
    assert found["row-042"] == job_store.get("row-042")
    assert job_store.get_many([]) == {}


def test_expired_records_are_never_returned(job_store: JobStore) -> None:
    job_store.create(make_job("old", expires_at=int(time.time()) - 1))
    job_store.create(make_job("new", minutes=1))
    assert job_store.get("old") is None
    page, _ = job_store.list("key-a")
    assert [j.job_id for j in page] == ["new"]
    with pytest.raises(JobNotFoundError):
        job_store.update("old", {"attempts": 1})


def test_an_expired_record_frees_its_idempotency_key(job_store: JobStore) -> None:
    job_store.create(make_job("old", idempotency_key="k", expires_at=int(time.time()) - 1))
    fresh = job_store.create(make_job("new", idempotency_key="k"))
    assert fresh.job_id == "new"


@pytest.mark.parametrize("field", ["owner", "job_id", "submitted_at"])
def test_update_refuses_to_change_who_owns_a_job_or_which_job_it_is(job_store: JobStore, field: str) -> None:
    job_store.create(make_job("job-1", owner="alice"))
    value = {"owner": "mallory", "job_id": "job-2", "submitted_at": T0 + timedelta(days=1)}[field]

    with pytest.raises(ValueError, match=f"{field} cannot change"):
        job_store.update("job-1", {field: value, "error": "renamed"})

    job = job_store.get("job-1")
    assert job is not None and (job.owner, job.error) == ("alice", None)
    assert job.submitted_at == T0
    assert [j.job_id for j in job_store.list("alice")[0]] == ["job-1"]
    assert job_store.list("mallory")[0] == [] and job_store.get("job-2") is None


def test_purge_expired_returns_only_expired_records(job_store: JobStore) -> None:
    # Stores whose database expires records itself (DynamoDB TTL) purge nothing; either way no
    # live record goes and no expired one is read again.
    job_store.create(make_job("live"))
    job_store.create(make_job("gone", expires_at=int(time.time()) - 5))
    purged = job_store.purge_expired()
    assert {job.job_id for job in purged} <= {"gone"}
    assert job_store.get("live") is not None and job_store.get("gone") is None
