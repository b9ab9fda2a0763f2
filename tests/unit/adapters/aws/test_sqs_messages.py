"""SQS message bodies, Lambda records and SQS's whole-second limits (no network)."""

from __future__ import annotations

import pytest

from autovid.adapters.aws.sqs_queue import (
    MalformedMessageError,
    _seconds,
    decode_body,
    encode_body,
    message_from_record,
)


def test_a_lambda_record_becomes_a_queue_message() -> None:
    record = {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": encode_body("job-1"),
        "attributes": {"ApproximateReceiveCount": "3"},
    }
    message = message_from_record(record)
    assert (message.job_id, message.receipt, message.receive_count) == ("job-1", "rh-1", 3)


@pytest.mark.parametrize("body", ["", "not json", "[]", '{"jobId": 5}', '{"jobId": ""}', '{"job": "x"}'])
def test_bodies_that_are_not_job_references_are_poison(body: str) -> None:
    with pytest.raises(MalformedMessageError, match="jobId"):
        decode_body(body)


@pytest.mark.parametrize(
    ("value_s", "limit_s", "expected"),
    [(0, 900, 0), (0.2, 900, 1), (59.5, 900, 60), (-3, 900, 0), (5000, 900, 900)],
)
def test_durations_round_up_to_whole_seconds_within_limits(
    value_s: float, limit_s: int, expected: int
) -> None:
    assert _seconds(value_s, limit_s) == expected
