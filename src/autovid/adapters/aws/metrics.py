"""CloudWatch metrics of processed jobs, written as Embedded Metric Format log lines through
Powertools ``Metrics`` (CloudWatch extracts them from the log: no PutMetricData calls, no extra
IAM permission, nothing lost when the function times out mid-call)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from autovid.jobs.model import Job
from autovid.jobs.processor import Outcome

NAMESPACE = "AutoVid"  # unless POWERTOOLS_METRICS_NAMESPACE says otherwise
JOBS_COMPLETED = "JobsCompleted"
JOBS_FAILED = "JobsFailed"
JOBS_RETRIED = "JobsRetried"
JOBS_CANCELLED = "JobsCancelled"
RENDER_SECONDS = "RenderSeconds"
VIDEO_SECONDS_RENDERED = "VideoSecondsRendered"

_COUNTERS = {
    Outcome.COMPLETED: JOBS_COMPLETED,
    Outcome.FAILED: JOBS_FAILED,
    Outcome.RETRYING: JOBS_RETRIED,
    Outcome.CANCELLED: JOBS_CANCELLED,
}


def job_metrics(service: str) -> Metrics:
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE
    return Metrics(namespace=namespace, service=os.environ.get("POWERTOOLS_SERVICE_NAME") or service)


def record_outcome(metrics: Metrics, outcome: Outcome, job: Job | None) -> None:
    """Count the outcome; for a completed ``job`` also its render time and output duration."""
    counter = _COUNTERS.get(outcome)
    if counter is not None:
        metrics.add_metric(name=counter, unit=MetricUnit.Count, value=1)
    if outcome != Outcome.COMPLETED or job is None:
        return
    if job.processing_time_s is not None:
        metrics.add_metric(name=RENDER_SECONDS, unit=MetricUnit.Seconds, value=job.processing_time_s)
    if job.output is not None:
        metrics.add_metric(name=VIDEO_SECONDS_RENDERED, unit=MetricUnit.Seconds, value=job.output.duration_s)
