"""The Lambda functions' JSON log lines carry no secrets, tracebacks included."""

from __future__ import annotations

import json
import logging
import sys

from autovid.entrypoints.lambdas import logger

SIGNED = "https://bucket.s3.amazonaws.com/in.mp4?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIAEXAMPLE"


def test_an_exception_logged_by_a_lambda_function_is_redacted() -> None:
    try:
        raise RuntimeError(f"fetching {SIGNED} failed")
    except RuntimeError:
        record = logging.getLogger("autovid.jobs.processor").makeRecord(
            "autovid.jobs.processor", logging.ERROR, __file__, 1, "job failed", (), sys.exc_info()
        )
    line = logger.registered_formatter.format(record)
    assert "deadbeef" not in line and "AKIAEXAMPLE" not in line
    logged = json.loads(line)
    assert "X-Amz-Signature=***" in logged["exception"]
    assert "fetching https://bucket.s3.amazonaws.com/in.mp4?X-Amz-Signature=***" in json.dumps(logged)
