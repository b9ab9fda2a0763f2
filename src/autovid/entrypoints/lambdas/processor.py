"""SQS (event source mapping with ``ReportBatchItemFailures``) -> ``JobProcessor.process``.

Each record becomes the same ``QueueMessage`` the local worker gets and goes through the same
processor (claim, render, store, complete, webhook; lease renewed on the record's receipt handle
while rendering). A record whose message the processor did not delete - a retry with backoff, a
job held by another worker, the last failed attempt on its way to the dead-letter queue, a
malformed body - is reported in ``batchItemFailures``, so the rest of the batch is deleted and
only those come back.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.adapters.aws.metrics import job_metrics, record_outcome
from autovid.adapters.aws.sqs_queue import MalformedMessageError, SqsJobQueue, message_from_record
from autovid.bootstrap import Container
from autovid.config import Settings
from autovid.entrypoints.lambdas import container, logger
from autovid.errors import AutovidError, ConfigError, RetryableError
from autovid.jobs.model import Job
from autovid.jobs.processor import Outcome
from autovid.ports import QueueMessage

metrics = job_metrics("autovid-processor")
# A batch where every message stays (say, one job retrying) is a normal answer, not an error.
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class MessageKept(RetryableError):
    """The message stays on the queue (reported as a batch item failure)."""


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app = container()
    require_webhook_secret(app.settings)
    record_handler = functools.partial(process_record, app)
    response: dict[str, Any] = process_partial_response(
        event=event, record_handler=record_handler, processor=batch, context=context
    )
    return response


def require_webhook_secret(settings: Settings) -> None:
    # Webhook receivers verify signatures with it; the API function does not need it.
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise ConfigError("the processor needs AUTOVID_WEBHOOK_SECRET to sign webhooks")


def process_record(app: Container, record: SQSRecord) -> str:
    queue = app.queue
    if not isinstance(queue, SqsJobQueue):
        raise ConfigError("the processor Lambda needs AUTOVID_BACKEND=aws (an SQS queue)")
    try:
        message = message_from_record(record.raw_event)
    except MalformedMessageError as exc:
        logger.error("poison message", extra={"messageId": record.message_id, "reason": exc.message})
        raise
    try:
        outcome = app.processor.process(message)
    except Exception:
        # The store or queue failed around the job (the processor settles job failures itself).
        # Without this the message would wait out the queue's long visibility timeout.
        release_quietly(queue, message, delay_s=app.settings.retry_base_delay_s)
        raise
    record_outcome(metrics, outcome, _completed_job(app, message, outcome))
    kept = not queue.was_deleted(message)
    logger.info(
        "job processed",
        extra={
            "jobId": message.job_id,
            "outcome": outcome.value,
            "receiveCount": message.receive_count,
            "messageKept": kept,
        },
    )
    if kept:
        raise MessageKept(f"job '{message.job_id}': {outcome.value}; its message stays on the queue")
    return outcome.value


def release_quietly(queue: SqsJobQueue, message: QueueMessage, *, delay_s: float) -> None:
    try:
        queue.release(message, delay_s=delay_s)
    except AutovidError as exc:
        logger.warning(
            "could not release the message", extra={"jobId": message.job_id, "reason": exc.message}
        )


def _completed_job(app: Container, message: QueueMessage, outcome: Outcome) -> Job | None:
    """The finished record, for its render time and duration (metrics only: never fails)."""
    if outcome != Outcome.COMPLETED:
        return None
    try:
        return app.store.get(message.job_id)
    except AutovidError:
        return None
