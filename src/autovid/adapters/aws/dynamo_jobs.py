"""``JobStore`` on Amazon DynamoDB, with the same semantics as ``SqliteJobStore``.

Table layout (the SAM template must match; see ``TABLE_*`` and ``OWNER_INDEX*`` below):

- partition key ``jobId`` (S); every ``Job`` field is an attribute named as in
  ``job_to_record`` (``status``, ``owner``, ``claimToken``, …); ``None`` fields are absent;
- ``expiresAt`` (N, epoch seconds) is the TTL attribute. DynamoDB deletes expired items lazily
  (within days), so reads, updates and lists treat an expired record as gone at once;
- GSI ``owner-submitted-index``: partition ``owner`` (S), sort ``submittedKey`` (S, ISO submit time
  + ``#`` + job id, so pages are newest first with a stable tie-break), projection ALL;
- idempotency keys are separate items ``jobId = "idem#[owner, key]"`` (no ``owner`` attribute, so
  the GSI skips them) written in one transaction with the job: only the first submit wins.

State transitions are ``UpdateItem`` calls whose ``ConditionExpression`` checks the status and the
claim token; a lost condition raises ``ConflictError``. Numbers go in as ``Decimal`` built from
the float's shortest repr (exact round trip); the spec is stored as JSON text (zlib-compressed
binary when large), so its numbers are never touched.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import random
import time
import zlib
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from autovid.adapters.aws.errors import error_code, is_transient, storage_error
from autovid.errors import (
    ConflictError,
    ErrorDetail,
    JobNotFoundError,
    SpecError,
    TransientStorageError,
)
from autovid.jobs.model import (
    Job,
    JobStatus,
    isoformat,
    job_from_record,
    job_to_record,
    refuse_immutable_changes,
    utcnow,
)
from autovid.ports import JobStore

TABLE_KEY = "jobId"
TTL_ATTRIBUTE = "expiresAt"
OWNER_INDEX = "owner-submitted-index"
OWNER_INDEX_PARTITION = "owner"
OWNER_INDEX_SORT = "submittedKey"
IDEMPOTENCY_PREFIX = "idem#"
_BATCH_GET_KEYS = 100  # BatchGetItem's limit
_BATCH_GET_ATTEMPTS = 5
MAX_SPEC_BYTES = 300_000  # DynamoDB items hold 400 KB; leave room for the other attributes
COMPRESS_ABOVE_BYTES = 32_000
_TRANSACTION_ATTEMPTS = 6
_PARALLEL_PUTS = 16  # a batch's jobs: conditional puts cannot be batched, so they go side by side
_MAX_NUMBER = 1e126  # DynamoDB's number range
_MIN_NUMBER = 1e-130

# Job field -> attribute (the names ``job_to_record`` uses).
ATTRIBUTES: dict[str, str] = {
    "job_id": "jobId",
    "owner": "owner",
    "spec": "spec",
    "status": "status",
    "submitted_at": "submittedAt",
    "updated_at": "updatedAt",
    "started_at": "startedAt",
    "completed_at": "completedAt",
    "processing_time_s": "processingTime",
    "progress": "progress",
    "output": "output",
    "error": "error",
    "attempts": "attempts",
    "cancel_requested": "cancelRequested",
    "webhook_delivery": "webhookDelivery",
    "idempotency_key": "idempotencyKey",
    "expires_at": "expiresAt",
    "claim_token": "claimToken",
    "claim_expires_at": "claimExpiresAt",
    "batch_id": "batchId",
    "batch_row": "batchRow",
    "claim_holder": "claimHolder",
}
_PROBE = Job(job_id="probe", owner="probe", spec={})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoJobStore(JobStore):
    """``client`` is a boto3 DynamoDB client (see ``clients.py``); ``table`` the table name."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    # --- JobStore ------------------------------------------------------------------------------

    def create(self, job: Job) -> Job:
        item = job_item(job)
        if job.idempotency_key is None:
            self._put_new(job, item)
            return job
        return self._create_idempotent(job, item)

    def create_many(self, jobs: Sequence[Job]) -> list[Job]:
        def put(job: Job) -> Job | None:
            try:
                self._put_new(job, job_item(job))
            except ConflictError:  # stored by an earlier attempt at the same batch
                return None
            return job

        with ThreadPoolExecutor(max_workers=_PARALLEL_PUTS) as pool:
            return [job for job in pool.map(put, jobs) if job is not None]

    def get(self, job_id: str) -> Job | None:
        item = self._get_item(job_id)
        if item is None or not _is_job(item) or _expired(item, int(time.time())):
            return None
        return item_job(item)

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """``BatchGetItem``, 100 keys a call, consistent reads; keys DynamoDB leaves unprocessed
        (throttling) are asked again after a short pause."""
        wanted = list(dict.fromkeys(job_ids))  # BatchGetItem refuses a key asked twice
        now_s = int(time.time())
        found: dict[str, Job] = {}
        for start in range(0, len(wanted), _BATCH_GET_KEYS):
            for item in self._batch_get(wanted[start : start + _BATCH_GET_KEYS]):
                if _is_job(item) and not _expired(item, now_s):
                    job = item_job(item)
                    found[job.job_id] = job
        return found

    def _batch_get(self, job_ids: list[str]) -> list[dict[str, Any]]:
        request = {self.table: {"Keys": [{TABLE_KEY: {"S": i}} for i in job_ids], "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for attempt in range(_BATCH_GET_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
            response = self._call("batch_get_item", f"reading {len(job_ids)} jobs", RequestItems=request)
            items += response.get("Responses", {}).get(self.table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
        raise storage_error(
            RuntimeError("keys left unprocessed"), f"DynamoDB batch_get_item ({len(job_ids)} jobs)"
        )

    def update(
        self,
        job_id: str,
        changes: dict[str, Any],
        *,
        expect_status: Collection[JobStatus] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Job:
        unknown = set(changes) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"unknown job fields: {', '.join(sorted(unknown))}")
        refuse_immutable_changes(changes)
        if job_id.startswith(IDEMPOTENCY_PREFIX):
            raise JobNotFoundError(f"job '{job_id}' not found")
        request = _UpdateRequest(int(time.time()))
        expression = request.update_expression({"updated_at": utcnow(), **changes})
        condition = request.condition(expect_status, expect)
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key={TABLE_KEY: {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=request.names,
                ExpressionAttributeValues=request.values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise self._why_not(job_id, exc, expect_status, expect) from None
            raise storage_error(exc, f"updating job '{job_id}' in DynamoDB") from exc
        except BotoCoreError as exc:
            raise storage_error(exc, f"updating job '{job_id}' in DynamoDB") from exc
        return item_job(response["Attributes"])

    def list(
        self, owner: str, *, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        limit = max(1, min(int(limit), 1000))
        start = decode_cursor(cursor, owner) if cursor else None
        names = {"#owner": OWNER_INDEX_PARTITION, "#ttl": TTL_ATTRIBUTE}
        values: dict[str, Any] = {":owner": {"S": owner}, ":now": {"N": str(int(time.time()))}}
        filters = "(attribute_not_exists(#ttl) OR #ttl > :now)"
        if status is not None:
            names["#status"] = "status"
            values[":status"] = {"S": JobStatus(status).value}
            filters += " AND #status = :status"
        items: list[dict[str, Any]] = []
        while True:
            query: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": OWNER_INDEX,
                "KeyConditionExpression": "#owner = :owner",
                "FilterExpression": filters,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,  # newest first
                "Limit": limit + 1 - len(items),
            }
            if start is not None:
                query["ExclusiveStartKey"] = start
            response = self._call("query", f"listing jobs of '{owner}'", **query)
            items += response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            if len(items) > limit or start is None:
                break
        jobs = [item_job(item) for item in items[:limit]]
        next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
        return jobs, next_cursor

    # --- creating ------------------------------------------------------------------------------

    def _put_new(self, job: Job, item: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TABLE_KEY},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConflictError(f"job '{job.job_id}' already exists") from None
            raise storage_error(exc, f"storing job '{job.job_id}' in DynamoDB") from exc
        except BotoCoreError as exc:
            raise storage_error(exc, f"storing job '{job.job_id}' in DynamoDB") from exc

    def _create_idempotent(self, job: Job, item: dict[str, Any]) -> Job:
        """Write the key's marker and the job in one transaction; when the marker is already
        held by a live job, return that job."""
        key_id = idempotency_item_id(job.owner, job.idempotency_key or "")
        marker = {TABLE_KEY: {"S": key_id}, "targetJobId": {"S": job.job_id}}
        if job.expires_at is not None:
            marker[TTL_ATTRIBUTE] = {"N": str(job.expires_at)}
        for attempt in range(_TRANSACTION_ATTEMPTS):
            names = {"#pk": TABLE_KEY, "#ttl": TTL_ATTRIBUTE}
            free = {":now": {"N": str(int(time.time()))}}
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": marker,
                                # free, or held by a record whose TTL has passed
                                "ConditionExpression": "attribute_not_exists(#pk) OR #ttl <= :now",
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": free,
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(#pk)",
                                "ExpressionAttributeNames": {"#pk": TABLE_KEY},
                            }
                        },
                    ]
                )
                return job
            except ClientError as exc:
                reasons = _cancellation_codes(exc)
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    holder = self._key_holder(key_id)
                    if holder is not None:
                        return holder
                    continue  # the holder is gone and its marker was freed: try again
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    raise ConflictError(f"job '{job.job_id}' already exists") from None
                if not ("TransactionConflict" in reasons or is_transient(exc)):
                    raise storage_error(exc, f"storing job '{job.job_id}' in DynamoDB") from exc
            except BotoCoreError as exc:
                raise storage_error(exc, f"storing job '{job.job_id}' in DynamoDB") from exc
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # a concurrent submit: back off
        raise TransientStorageError(f"storing job '{job.job_id}': the idempotency key stayed contended")

    def _key_holder(self, key_id: str) -> Job | None:
        """The live job holding an idempotency key; frees a marker whose job is gone."""
        marker = self._get_item(key_id)
        if marker is None:
            return None
        target = marker.get("targetJobId", {}).get("S", "")
        holder = self.get(target)
        if holder is None:
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key={TABLE_KEY: {"S": key_id}},
                    ConditionExpression="targetJobId = :t",
                    ExpressionAttributeValues={":t": {"S": target}},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise storage_error(exc, "freeing an idempotency key in DynamoDB") from exc
        return holder

    # --- helpers -------------------------------------------------------------------------------

    def _get_item(self, item_id: str) -> dict[str, Any] | None:
        response = self._call(
            "get_item",
            f"reading '{item_id}'",
            TableName=self.table,
            Key={TABLE_KEY: {"S": item_id}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _why_not(
        self,
        job_id: str,
        exc: ClientError,
        expect_status: Collection[JobStatus] | None,
        expect: Mapping[str, Any] | None,
    ) -> Exception:
        """Explain a failed condition: the job is gone (NotFound) or not as expected (Conflict)."""
        item = exc.response.get("Item") or self._get_item(job_id)
        if item is None or not _is_job(item) or _expired(item, int(time.time())):
            return JobNotFoundError(f"job '{job_id}' not found")
        job = item_job(item)
        if expect_status is not None and job.status not in expect_status:
            allowed = ", ".join(sorted(JobStatus(s).value for s in expect_status))
            return ConflictError(f"job '{job_id}' is {job.status.value}, expected {allowed}")
        changed = [name for name, value in (expect or {}).items() if getattr(job, name) != value]
        what = ", ".join(changed) or "the record"
        return ConflictError(f"job '{job_id}' changed: {what} no longer as expected")

    def _call(self, operation: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"DynamoDB {operation} ({what})") from exc
        return response


class _UpdateRequest:
    """Builds the expressions of one ``UpdateItem`` with numbered placeholders."""

    def __init__(self, now_s: int) -> None:
        self.names: dict[str, str] = {"#pk": TABLE_KEY, "#ttl": TTL_ATTRIBUTE}
        self.values: dict[str, Any] = {":now": {"N": str(now_s)}}

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    def update_expression(self, changes: Mapping[str, Any]) -> str:
        sets: list[str] = []
        removes: list[str] = []
        for attribute, value in record_values(changes).items():
            if value is None:
                removes.append(self.name(attribute))
            else:
                sets.append(f"{self.name(attribute)} = {self.value(value)}")
        expression = f"SET {', '.join(sets)}"
        return expression + (f" REMOVE {', '.join(removes)}" if removes else "")

    def condition(self, expect_status: Collection[JobStatus] | None, expect: Mapping[str, Any] | None) -> str:
        # The record exists, is a job, and its TTL has not passed.
        parts = ["attribute_exists(#pk)", f"attribute_exists({self.name('owner')})"]
        parts.append("(attribute_not_exists(#ttl) OR #ttl > :now)")
        if expect_status is not None and not expect_status:
            parts.append("attribute_not_exists(#pk)")  # no status allowed: the condition must fail
        elif expect_status is not None:
            options = ", ".join(self.value(JobStatus(s).value) for s in expect_status)
            parts.append(f"{self.name('status')} IN ({options})")
        for attribute, value in record_values(dict(expect or {})).items():
            placeholder = self.name(attribute)
            if value is None:
                parts.append(f"attribute_not_exists({placeholder})")
            else:
                parts.append(f"{placeholder} = {self.value(value)}")
        return " AND ".join(parts)


# --- conversions -----------------------------------------------------------------------------


def record_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Job field values as stored attribute values, converted by ``job_to_record`` itself."""
    unknown = set(changes) - set(ATTRIBUTES)
    if unknown:
        raise ValueError(f"unknown job fields: {', '.join(sorted(unknown))}")
    record = job_to_record(dataclasses.replace(_PROBE, **changes))
    values = {ATTRIBUTES[field]: record[ATTRIBUTES[field]] for field in changes}
    if "spec" in values:
        values["spec"] = encode_spec(values["spec"])
    return values


def job_item(job: Job) -> dict[str, Any]:
    record = job_to_record(job)
    record["spec"] = encode_spec(job.spec)
    record[OWNER_INDEX_SORT] = f"{isoformat(job.submitted_at)}#{job.job_id}"
    return {name: serialize(value) for name, value in record.items() if value is not None}


def item_job(item: Mapping[str, Any]) -> Job:
    record = {name: deserialize(value) for name, value in item.items()}
    record["spec"] = decode_spec(record["spec"])
    if record.get("processingTime") is not None:
        record["processingTime"] = float(record["processingTime"])
    return job_from_record(record)


def encode_spec(spec: dict[str, Any]) -> str | bytes:
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) <= COMPRESS_ABOVE_BYTES:
        return text
    packed = zlib.compress(text.encode(), 6)
    if len(packed) > MAX_SPEC_BYTES:
        raise SpecError(
            [ErrorDetail("", f"the job spec is too large to store ({len(text)} characters of JSON)")]
        )
    return packed


def decode_spec(value: Any) -> dict[str, Any]:
    text = zlib.decompress(bytes(value)).decode() if isinstance(value, bytes | bytearray) else value
    spec: dict[str, Any] = json.loads(text)
    return spec


def serialize(value: Any) -> dict[str, Any]:
    wire: dict[str, Any] = _serializer.serialize(_decimals(value))
    return wire


def deserialize(wire: Mapping[str, Any]) -> Any:
    return _plain(_deserializer.deserialize(wire))


def _decimals(value: Any) -> Any:
    """Python values DynamoDB accepts: floats as exact Decimals (from the shortest repr, so 0.1
    stays 0.1). DynamoDB numbers span 1e-130..<1e126: NaN, infinities and larger magnitudes
    become None, smaller ones 0 (never an error for a float)."""
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= _MAX_NUMBER:
            return None
        return Decimal(repr(value)) if abs(value) >= _MIN_NUMBER else Decimal(0)
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # DynamoDB keeps no int/float distinction: whole numbers in int64 range come back as int.
        whole = value == value.to_integral_value() and abs(value) < 2**63
        return int(value) if whole else float(value)
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def idempotency_item_id(owner: str, key: str) -> str:
    # JSON keeps owner and key apart whatever characters they hold.
    return IDEMPOTENCY_PREFIX + json.dumps([owner, key], separators=(",", ":"))


def _is_job(item: Mapping[str, Any]) -> bool:
    return OWNER_INDEX_PARTITION in item and not item[TABLE_KEY]["S"].startswith(IDEMPOTENCY_PREFIX)


def _expired(item: Mapping[str, Any], now_s: int) -> bool:
    ttl = item.get(TTL_ATTRIBUTE)
    return ttl is not None and "N" in ttl and int(Decimal(ttl["N"])) <= now_s


def _cancellation_codes(exc: ClientError) -> list[str]:
    if error_code(exc) != "TransactionCanceledException":
        return []
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(item: Mapping[str, Any]) -> str:
    """The position after ``item`` in the owner index: its keys, base64url JSON (opaque)."""
    keys = [item[OWNER_INDEX_PARTITION]["S"], item[OWNER_INDEX_SORT]["S"], item[TABLE_KEY]["S"]]
    return base64.urlsafe_b64encode(json.dumps(keys).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_owner, sort_key, job_id = json.loads(raw)
        if not all(isinstance(v, str) for v in (cursor_owner, sort_key, job_id)) or cursor_owner != owner:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise SpecError([ErrorDetail("cursor", "is not a cursor returned by this API")]) from None
    return {
        OWNER_INDEX_PARTITION: {"S": owner},
        OWNER_INDEX_SORT: {"S": sort_key},
        TABLE_KEY: {"S": job_id},
    }
