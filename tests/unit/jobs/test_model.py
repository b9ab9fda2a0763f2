"""The job record: JSON round trip and claim liveness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autovid.jobs.model import (
    Job,
    JobStatus,
    OutputInfo,
    Progress,
    job_from_record,
    job_to_record,
    stage_rank,
    utcnow,
)


def test_record_round_trip_keeps_microseconds_and_values() -> None:
    at = datetime(2024, 1, 15, 10, 30, 45, 123456, tzinfo=UTC)
    job = Job(
        job_id="j",
        owner="o",
        spec={"a": [1, {"b": None}]},
        status=JobStatus.RETRYING,
        submitted_at=at,
        updated_at=at,
        progress=Progress("mixing", 42.5),
        output=OutputInfo("outputs/j/x.mp4", 90.2, 15728640, "s3://b/outputs/j/x.mp4"),
        claim_token="t",
        claim_expires_at=at + timedelta(seconds=30),
    )
    record = job_to_record(job)
    assert record["submittedAt"] == "2024-01-15T10:30:45.123456+00:00"
    assert job_from_record(record) == job


def test_claim_is_live_only_while_processing_and_unexpired() -> None:
    now = utcnow()
    live = Job("j", "o", {}, status=JobStatus.PROCESSING, claim_expires_at=now + timedelta(seconds=5))
    assert live.claim_live(now)
    assert not live.claim_live(now + timedelta(seconds=6))
    assert not Job(
        "j", "o", {}, status=JobStatus.RETRYING, claim_expires_at=now + timedelta(seconds=5)
    ).claim_live(now)


def test_stages_are_ordered() -> None:
    order = ["queued", "fetching", "speech", "mixing", "encoding", "storing", "notifying", "done"]
    assert [stage_rank(s) for s in order] == list(range(8))
