"""How DynamoJobStore turns job values into DynamoDB attributes and back (no network)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import pytest

from autovid.adapters.aws.dynamo_jobs import (
    ATTRIBUTES,
    COMPRESS_ABOVE_BYTES,
    decode_cursor,
    decode_spec,
    deserialize,
    encode_cursor,
    encode_spec,
    item_job,
    job_item,
    record_values,
    serialize,
)
from autovid.errors import SpecError
from autovid.jobs.model import Job, JobStatus, OutputInfo, Progress, job_to_record


def test_every_job_field_has_an_attribute_named_as_in_the_record() -> None:
    job = Job(job_id="j", owner="o", spec={})
    assert set(ATTRIBUTES) == {f.name for f in dataclasses.fields(Job)}
    assert set(ATTRIBUTES.values()) == set(job_to_record(job))


@pytest.mark.parametrize("value", [0.1, 1e-7, 123456.789012345, 2.5, 1 / 3, -0.0, 9.5e125, 2e-130])
def test_floats_round_trip_exactly(value: float) -> None:
    assert deserialize(serialize({"x": value}))["x"] == value
    assert float(serialize(value)["N"]) == value


def test_numbers_dynamodb_cannot_hold_never_fail() -> None:
    wire = serialize({"nan": math.nan, "inf": -math.inf, "huge": 1e300, "tiny": 1e-300})["M"]
    assert wire["nan"] == wire["inf"] == wire["huge"] == {"NULL": True}
    assert wire["tiny"] == {"N": "0"}


def test_a_job_survives_the_item_round_trip() -> None:
    at = datetime(2024, 1, 15, 10, 25, 0, 123456, tzinfo=UTC)
    job = Job(
        job_id="j1",
        owner="key",
        spec={"volume": 0.3, "timeline": [{"start": 1.25}], "name": "ü"},
        status=JobStatus.COMPLETED,
        submitted_at=at,
        updated_at=at,
        processing_time_s=8.0,
        progress=Progress("done", 100.0),
        output=OutputInfo("outputs/j1/x.mp4", 2.0, 12345, "s3://b/outputs/j1/x.mp4"),
        expires_at=1_900_000_000,
    )
    item = job_item(job)
    assert item["submittedKey"] == {"S": "2024-01-15T10:25:00.123456+00:00#j1"}
    assert "claimToken" not in item  # None fields are left out, not stored as NULL
    back = item_job(item)
    assert back == job
    assert isinstance(back.processing_time_s, float)


def test_large_specs_are_compressed_and_giant_ones_refused() -> None:
    spec = {"timeline": [{"type": "tts", "data": {"text": "word " * 2000}} for _ in range(10)]}
    packed = encode_spec(spec)
    assert isinstance(packed, bytes) and len(packed) < COMPRESS_ABOVE_BYTES
    assert decode_spec(packed) == spec
    noise = {"blob": [format(i * 2654435761 % 2**32, "x") for i in range(200_000)]}
    with pytest.raises(SpecError, match="too large"):
        encode_spec(noise)


def test_changes_convert_like_the_record() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    values = record_values({"status": JobStatus.PROCESSING, "claim_expires_at": moment, "claim_token": None})
    assert values == {
        "status": "processing",
        "claimExpiresAt": "2024-01-01T00:00:00.000000+00:00",
        "claimToken": None,
    }
    with pytest.raises(ValueError, match="unknown job fields"):
        record_values({"colour": "red"})


def test_cursors_are_opaque_and_bound_to_their_owner() -> None:
    item = {"owner": {"S": "key-a"}, "submittedKey": {"S": "2024#j1"}, "jobId": {"S": "j1"}}
    cursor = encode_cursor(item)
    assert "key-a" not in cursor
    assert decode_cursor(cursor, "key-a") == item
    for bad in (cursor, "not-a-cursor", ""):
        with pytest.raises(SpecError, match="cursor"):
            decode_cursor(bad, "key-b" if bad == cursor else "key-a")
