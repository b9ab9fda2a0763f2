"""``JobQueue`` on Amazon SQS (a standard queue with a redrive policy to a dead-letter queue).

A message body is ``{"jobId": "…"}``. Leases are visibility timeouts: ``extend_lease`` and
``release`` change the visibility of the receipt handle, ``delete`` removes the message. SQS
itself moves a message to the dead-letter queue when it is received more than the redrive
policy's ``maxReceiveCount`` (keep it equal to ``AUTOVID_MAX_RECEIVES``, so the processor's
last attempt knows it is the last and fails the job first).

On Lambda the event source mapping receives; ``message_from_record`` turns an event record into
the same ``QueueMessage``, and the queue remembers which receipts this process deleted
(``was_deleted``), so the handler reports every message it did not delete as a batch item failure.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autovid.adapters.aws.errors import error_code, storage_error
from autovid.errors import ConflictError, PermanentError
from autovid.ports import JobQueue, QueueMessage

log = logging.getLogger(__name__)

MAX_DELAY_S = 900  # SQS DelaySeconds limit
MAX_VISIBILITY_S = 43_200  # 12 hours
MAX_WAIT_S = 20  # long polling limit
MAX_BATCH = 10
_STALE_RECEIPT_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "InvalidParameterValue", "AWS.SimpleQueueService.MessageNotInflight"}
)
_REMEMBERED_RECEIPTS = 1024
_PARALLEL_SENDS = 8
_SEND_ATTEMPTS = 3


class MalformedMessageError(PermanentError):
    """A queue message that is not a job reference: it can never succeed (a poison message)."""


class SqsJobQueue(JobQueue):
    def __init__(self, client: Any, queue_url: str, *, lease_s: float = 60.0) -> None:
        self.client = client
        self.queue_url = queue_url
        self.lease_s = lease_s
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, job_id: str, *, delay_s: float = 0) -> None:
        try:
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=encode_body(job_id),
                DelaySeconds=_seconds(delay_s, MAX_DELAY_S),
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"queueing job '{job_id}' on SQS") from exc

    def send_many(self, job_ids: Sequence[str]) -> None:
        """``SendMessageBatch`` in chunks of 10, several chunks at a time: 10 000 jobs in ~1000
        calls spread over a few connections."""
        chunks = [list(job_ids[i : i + MAX_BATCH]) for i in range(0, len(job_ids), MAX_BATCH)]
        with ThreadPoolExecutor(max_workers=_PARALLEL_SENDS) as pool:
            list(pool.map(self._send_chunk, chunks))

    def _send_chunk(self, job_ids: list[str]) -> None:
        pending = dict(enumerate(job_ids))
        for _ in range(_SEND_ATTEMPTS):
            entries = [{"Id": str(i), "MessageBody": encode_body(job_id)} for i, job_id in pending.items()]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise storage_error(exc, f"queueing {len(entries)} jobs on SQS") from exc
            failed = response.get("Failed", [])
            permanent = [f for f in failed if f.get("SenderFault")]
            if permanent:
                raise PermanentError(f"SQS refused a batch message: {permanent[0].get('Message')}")
            pending = {int(f["Id"]): pending[int(f["Id"])] for f in failed}
            if not pending:
                return
        raise storage_error(
            RuntimeError("SendMessageBatch kept failing"), f"queueing {len(pending)} jobs on SQS"
        )

    def receive(
        self, *, max_messages: int = 1, wait_s: float = 0, stop: threading.Event | None = None
    ) -> list[QueueMessage]:
        # SQS cannot end a long poll early: ``stop`` only skips a poll asked for after it is set.
        if stop is not None and stop.is_set():
            return []
        try:
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max(1, min(int(max_messages), MAX_BATCH)),
                WaitTimeSeconds=_seconds(wait_s, MAX_WAIT_S),
                VisibilityTimeout=_seconds(self.lease_s, MAX_VISIBILITY_S),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "receiving from SQS") from exc
        messages = []
        for raw in response.get("Messages", []):
            try:
                messages.append(_message(raw["Body"], raw["ReceiptHandle"], raw.get("Attributes", {})))
            except MalformedMessageError as exc:
                # Left alone: SQS dead-letters it after maxReceiveCount receives.
                log.error("SQS message %s is not a job: %s", raw.get("MessageId"), exc.message)
        return messages

    def extend_lease(self, message: QueueMessage, lease_s: float) -> None:
        self._change_visibility(message, lease_s)

    def release(self, message: QueueMessage, *, delay_s: float = 0) -> None:
        self._change_visibility(message, delay_s)

    def delete(self, message: QueueMessage) -> None:
        try:
            self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt)
        except (ClientError, BotoCoreError) as exc:
            raise self._receipt_error(exc, message, "deleting") from exc
        with self._lock:
            self._deleted[message.receipt] = None
            while len(self._deleted) > _REMEMBERED_RECEIPTS:
                self._deleted.popitem(last=False)

    # --- SQS only ------------------------------------------------------------------------------

    def was_deleted(self, message: QueueMessage) -> bool:
        """True once (then forgotten) when this process deleted ``message``."""
        with self._lock:
            if message.receipt not in self._deleted:
                return False
            del self._deleted[message.receipt]
            return True

    # --- helpers -------------------------------------------------------------------------------

    def _change_visibility(self, message: QueueMessage, seconds: float) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message.receipt,
                VisibilityTimeout=_seconds(seconds, MAX_VISIBILITY_S),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._receipt_error(exc, message, "changing the visibility of") from exc

    def _receipt_error(self, exc: Exception, message: QueueMessage, doing: str) -> Exception:
        if isinstance(exc, ClientError) and error_code(exc) in _STALE_RECEIPT_CODES:
            # The lease ran out and the message went to another consumer (or was deleted).
            return ConflictError(f"receipt for job '{message.job_id}' is no longer valid ({error_code(exc)})")
        return storage_error(exc, f"{doing} the SQS message of job '{message.job_id}'")


def encode_body(job_id: str) -> str:
    return json.dumps({"jobId": job_id})


def decode_body(body: str) -> str:
    try:
        job_id = json.loads(body).get("jobId")
    except (ValueError, AttributeError):
        job_id = None
    if not isinstance(job_id, str) or not job_id:
        raise MalformedMessageError(f'message body is not {{"jobId": "<id>"}}: {body[:200]!r}')
    return job_id


def message_from_record(record: Mapping[str, Any]) -> QueueMessage:
    """A Lambda SQS event record (``Records[i]``) as a ``QueueMessage``."""
    return _message(record.get("body", ""), record["receiptHandle"], record.get("attributes", {}))


def _message(body: str, receipt: str, attributes: Mapping[str, Any]) -> QueueMessage:
    count = int(attributes.get("ApproximateReceiveCount", 1))
    return QueueMessage(job_id=decode_body(body), receipt=receipt, receive_count=count)


def _seconds(value_s: float, limit_s: int) -> int:
    """SQS takes whole seconds: round up (a lease never ends early), clamp to the limit."""
    return max(0, min(limit_s, math.ceil(value_s)))
