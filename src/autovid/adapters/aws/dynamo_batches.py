"""``TemplateStore`` and ``BatchStore`` on one DynamoDB table, with the SQLite stores' semantics.

Table layout (the SAM template must match): partition key ``pk`` (S), sort key ``sk`` (S),
TTL attribute ``expiresAt``.

- a template's head: ``pk = "tpls#<owner>"``, ``sk = <templateId>`` (one query lists an owner's
  templates), with the latest version and its record; each version: ``pk = "tpl#[owner, id]"``,
  ``sk = "v#<version, 6 digits>"``. A new version is a transaction: the head moves on only from
  the version it was read at, and the version item must be new.
- a batch: ``pk = "batch#<batchId>"``; ``sk = "meta"`` holds the record (JSON text, with a
  revision number for conditional updates) and the counters ``n<status>`` as numbers;
  ``sk = "row#<row, 6 digits>"`` holds each row's job id, status and attempt.
- an idempotency key: ``pk = "bidem#[owner, key]"``, ``sk = "-"``, written in one transaction with
  the batch's meta item, as job keys are.

A row moves in one ``TransactWriteItems``: the row's update, conditional on its status and job id,
and ``ADD`` on the two counters. Two workers reporting at once never lose an increment: the
loser's condition fails (the row already moved) or DynamoDB cancels it for a conflict and it
tries again.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autovid.adapters.aws.errors import error_code, is_transient, storage_error
from autovid.errors import BatchNotFoundError, ConflictError, TemplateNotFoundError, TransientStorageError
from autovid.jobs.batch_model import (
    ALLOWED_FROM,
    Batch,
    BatchRow,
    Counts,
    RowStatus,
    StoredTemplate,
    batch_from_record,
    batch_to_record,
    template_from_record,
    template_to_record,
)
from autovid.jobs.model import utcnow
from autovid.ports import BatchStore, TemplateStore

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiresAt"
META = "meta"
_ROW_DIGITS = 6
_ATTEMPTS = 8
_WRITE_BATCH = 25  # BatchWriteItem's limit
_PARALLEL_WRITES = 8
_COUNTERS = ("total", "submitted", "processing", "completed", "failed", "cancelled")
_BATCH_FIELDS = {f.name for f in dataclasses.fields(Batch)} - {"batch_id", "owner", "counts"}


class _Table:
    """The calls both stores make, with botocore errors translated."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def call(self, operation: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, f"DynamoDB {operation} ({what})") from exc
        return response

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.call("get_item", pk, TableName=self.table, Key=_key(pk, sk), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def transact(self, items: list[dict[str, Any]], what: str) -> list[str]:
        """Run a transaction; [] when it went through, else the cancellation reason per item
        (after retrying conflicts and throttling)."""
        for attempt in range(_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return []
            except ClientError as exc:
                reasons = _cancellation_codes(exc)
                if "ConditionalCheckFailed" in reasons:
                    return reasons
                if not ("TransactionConflict" in reasons or is_transient(exc)):
                    raise storage_error(exc, f"DynamoDB transaction ({what})") from exc
            except BotoCoreError as exc:
                raise storage_error(exc, f"DynamoDB transaction ({what})") from exc
            time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise TransientStorageError(f"DynamoDB transaction ({what}) stayed contended; try again")

    def query_all(self, what: str, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self.call("query", what, TableName=self.table, **query)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def write_all(self, items: Sequence[dict[str, Any]], what: str) -> None:
        """BatchWriteItem in chunks of 25, several chunks at a time (10 000 rows: 400 calls)."""
        chunks = [items[i : i + _WRITE_BATCH] for i in range(0, len(items), _WRITE_BATCH)]
        with ThreadPoolExecutor(max_workers=_PARALLEL_WRITES) as pool:
            list(pool.map(lambda chunk: self._write_chunk(chunk, what), chunks))

    def _write_chunk(self, items: Sequence[dict[str, Any]], what: str) -> None:
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(_ATTEMPTS):
            response = self.call("batch_write_item", what, RequestItems={self.table: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # throttled: back off, re-send the rest
        raise TransientStorageError(f"DynamoDB batch write ({what}) kept being throttled; try again")


class DynamoTemplateStore(TemplateStore):
    def __init__(self, client: Any, table: str) -> None:
        self._t = _Table(client, table)

    def create(self, template: StoredTemplate) -> StoredTemplate:
        head = _template_item(_heads(template.owner), template.template_id, template)
        version = _template_item(_versions(template.owner, template.template_id), _v(1), template)
        reasons = self._t.transact([self._put_new(head), self._put_new(version)], "storing a template")
        if reasons:
            raise ConflictError(f"template '{template.template_id}' already exists")
        return template

    def get(self, owner: str, template_id: str, *, version: int | None = None) -> StoredTemplate | None:
        head = self._t.get(_heads(owner), template_id)
        if head is None:
            return None
        if version is None:
            return _template(head)
        item = self._t.get(_versions(owner, template_id), _v(version))
        return _template(item) if item is not None else None

    def put_version(self, owner: str, template_id: str, document: dict[str, Any]) -> StoredTemplate:
        for _ in range(_ATTEMPTS):
            head = self._t.get(_heads(owner), template_id)
            if head is None:
                raise TemplateNotFoundError(f"template '{template_id}' not found")
            latest = _template(head)
            new = dataclasses.replace(
                latest, version=latest.version + 1, document=document, updated_at=utcnow()
            )
            moved_head = {
                "Put": {
                    "TableName": self._t.table,
                    "Item": _template_item(_heads(owner), template_id, new),
                    "ConditionExpression": "version = :was",
                    "ExpressionAttributeValues": {":was": {"N": str(latest.version)}},
                }
            }
            version_item = _template_item(_versions(owner, template_id), _v(new.version), new)
            if not self._t.transact([moved_head, self._put_new(version_item)], "a new template version"):
                return new
        raise TransientStorageError(f"template '{template_id}' kept changing; try again")

    def delete(self, owner: str, template_id: str) -> bool:
        try:
            self._t.client.delete_item(
                TableName=self._t.table,
                Key=_key(_heads(owner), template_id),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise storage_error(exc, f"deleting template '{template_id}'") from exc
        except BotoCoreError as exc:
            raise storage_error(exc, f"deleting template '{template_id}'") from exc
        versions = self._t.query_all(
            "a template's versions",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _versions(owner, template_id)}},
            ProjectionExpression="pk, sk",
        )
        for item in versions:  # the head is gone already: these are unreachable, tidy them away
            self._t.call("delete_item", "an old template version", TableName=self._t.table, Key=item)
        return True

    def list(
        self, owner: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredTemplate], str | None]:
        limit = max(1, min(int(limit), 1000))
        query: dict[str, Any] = {
            "TableName": self._t.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _heads(owner)}},
            "Limit": limit,
            "ConsistentRead": True,
        }
        if cursor:
            query["ExclusiveStartKey"] = _key(_heads(owner), cursor)
        response = self._t.call("query", f"listing templates of '{owner}'", **query)
        templates = [_template(item) for item in response.get("Items", [])]
        more = "LastEvaluatedKey" in response and templates
        return templates, (templates[-1].template_id if more else None)

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._t.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }


class DynamoBatchStore(BatchStore):
    def __init__(self, client: Any, table: str) -> None:
        self._t = _Table(client, table)

    def create(self, batch: Batch, rows: Sequence[BatchRow]) -> Batch:
        # Rows first: until the meta item exists nobody can reach them (the id is new).
        self._t.write_all([_row_item(batch, row) for row in rows], f"the rows of batch '{batch.batch_id}'")
        meta = {
            "Put": {
                "TableName": self._t.table,
                "Item": _meta_item(batch),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        if batch.idempotency_key is None:
            if self._t.transact([meta], f"storing batch '{batch.batch_id}'"):
                raise ConflictError(f"batch '{batch.batch_id}' already exists")
            return batch
        marker_pk = _idempotency_pk(batch.owner, batch.idempotency_key)
        marker = {
            "Put": {
                "TableName": self._t.table,
                "Item": {**_key(marker_pk, "-"), "targetBatchId": {"S": batch.batch_id}, **_ttl(batch)},
                "ConditionExpression": "attribute_not_exists(pk) OR expiresAt <= :now",
                "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
            }
        }
        if not self._t.transact([marker, meta], f"storing batch '{batch.batch_id}'"):
            return batch
        holder_item = self._t.get(marker_pk, "-")
        holder = self.get(holder_item["targetBatchId"]["S"]) if holder_item else None
        if holder is None:
            raise TransientStorageError("the batch holding this Idempotency-Key is being replaced; try again")
        return holder

    def get(self, batch_id: str) -> Batch | None:
        item = self._t.get(_batch_pk(batch_id), META)
        if item is None or _expired(item):
            return None
        return _batch(item)

    def rows(
        self, batch_id: str, *, start: int = 0, limit: int = 100, status: RowStatus | None = None
    ) -> list[BatchRow]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": {"S": _batch_pk(batch_id)},
                ":from": {"S": _row_sk(max(0, start))},
                ":to": {"S": _row_sk(10**_ROW_DIGITS - 1)},
            },
            "ConsistentRead": True,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = {"S": RowStatus(status).value}
        found: list[BatchRow] = []
        while len(found) < limit:
            response = self._t.call(
                "query", f"the rows of batch '{batch_id}'", TableName=self._t.table, Limit=limit, **query
            )
            found += [_row(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def move_row(
        self, batch_id: str, row: int, *, job_id: str, to: RowStatus, new_job_id: str | None = None
    ) -> Batch | None:
        for _ in range(_ATTEMPTS):
            item = self._t.get(_batch_pk(batch_id), _row_sk(row))
            if item is None or item["jobId"]["S"] != job_id:
                return None
            was = RowStatus(item["status"]["S"])
            if was not in ALLOWED_FROM[to]:
                return None
            if not self._t.transact(
                self._move(batch_id, row, job_id, was, to, new_job_id), "moving a batch row"
            ):
                return self.get(batch_id)
            # The row moved meanwhile (another worker's report): look again.
        raise TransientStorageError(f"row {row} of batch '{batch_id}' kept changing; try again")

    def _move(
        self, batch_id: str, row: int, job_id: str, was: RowStatus, to: RowStatus, new_job_id: str | None
    ) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._t.table,
                    "Key": _key(_batch_pk(batch_id), _row_sk(row)),
                    "UpdateExpression": "SET #status = :to, jobId = :new ADD attempt :step",
                    "ConditionExpression": "jobId = :job AND #status = :was",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":to": {"S": to.value},
                        ":was": {"S": was.value},
                        ":job": {"S": job_id},
                        ":new": {"S": new_job_id or job_id},
                        ":step": {"N": "1" if new_job_id else "0"},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._t.table,
                    "Key": _key(_batch_pk(batch_id), META),
                    "UpdateExpression": "ADD #was :down, #to :up",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#was": f"n{was.value}", "#to": f"n{to.value}"},
                    "ExpressionAttributeValues": {":down": {"N": "-1"}, ":up": {"N": "1"}},
                }
            },
        ]

    def update(
        self, batch_id: str, changes: dict[str, Any], *, expect: dict[str, Any] | None = None
    ) -> Batch:
        unknown = set(changes) - _BATCH_FIELDS
        if unknown:
            raise ValueError(f"unknown batch fields: {', '.join(sorted(unknown))}")
        for _ in range(_ATTEMPTS):
            item = self._t.get(_batch_pk(batch_id), META)
            if item is None or _expired(item):
                raise BatchNotFoundError(f"batch '{batch_id}' not found")
            batch = _batch(item)
            for name, value in (expect or {}).items():
                if getattr(batch, name) != value:
                    raise ConflictError(f"batch '{batch_id}' changed: {name} is no longer {value!r}")
            updated = dataclasses.replace(batch, **{"updated_at": utcnow(), **changes})
            revision = item["rev"]["N"]
            request = {
                "Update": {
                    "TableName": self._t.table,
                    "Key": _key(_batch_pk(batch_id), META),
                    "UpdateExpression": "SET #record = :record, rev = rev + :one",
                    "ConditionExpression": "rev = :rev",
                    "ExpressionAttributeNames": {"#record": "record"},
                    "ExpressionAttributeValues": {
                        ":record": {"S": json.dumps(batch_to_record(updated))},
                        ":rev": {"N": revision},
                        ":one": {"N": "1"},
                    },
                }
            }
            if not self._t.transact([request], f"updating batch '{batch_id}'"):
                return self.get(batch_id) or updated
        raise TransientStorageError(f"batch '{batch_id}' kept changing; try again")


# --- items -----------------------------------------------------------------------------------


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


def _heads(owner: str) -> str:
    return f"tpls#{owner}"


def _versions(owner: str, template_id: str) -> str:
    # JSON keeps owner and id apart whatever characters they hold.
    return "tpl#" + json.dumps([owner, template_id], separators=(",", ":"))


def _v(version: int) -> str:
    return f"v#{version:06d}"


def _template_item(pk: str, sk: str, template: StoredTemplate) -> dict[str, Any]:
    return {
        **_key(pk, sk),
        "version": {"N": str(template.version)},
        "record": {"S": json.dumps(template_to_record(template), separators=(",", ":"))},
    }


def _template(item: dict[str, Any]) -> StoredTemplate:
    return template_from_record(json.loads(item["record"]["S"]))


def _batch_pk(batch_id: str) -> str:
    return f"batch#{batch_id}"


def _row_sk(row: int) -> str:
    return f"row#{row:0{_ROW_DIGITS}d}"


def _idempotency_pk(owner: str, key: str) -> str:
    return "bidem#" + json.dumps([owner, key], separators=(",", ":"))


def _ttl(batch: Batch) -> dict[str, Any]:
    return {TTL_ATTRIBUTE: {"N": str(batch.expires_at)}} if batch.expires_at is not None else {}


def _meta_item(batch: Batch) -> dict[str, Any]:
    counters = {f"n{name}": {"N": str(getattr(batch.counts, name))} for name in _COUNTERS}
    return {
        **_key(_batch_pk(batch.batch_id), META),
        "record": {"S": json.dumps(batch_to_record(batch), separators=(",", ":"))},
        "rev": {"N": "0"},
        **counters,
        **_ttl(batch),
    }


def _batch(item: dict[str, Any]) -> Batch:
    counts = Counts(**{name: int(item.get(f"n{name}", {"N": "0"})["N"]) for name in _COUNTERS})
    return batch_from_record(json.loads(item["record"]["S"]), counts)


def _row_item(batch: Batch, row: BatchRow) -> dict[str, Any]:
    return {
        **_key(_batch_pk(batch.batch_id), _row_sk(row.row)),
        "row": {"N": str(row.row)},
        "jobId": {"S": row.job_id},
        "status": {"S": row.status.value},
        "attempt": {"N": str(row.attempt)},
        **_ttl(batch),
    }


def _row(item: dict[str, Any]) -> BatchRow:
    return BatchRow(
        int(item["row"]["N"]), item["jobId"]["S"], RowStatus(item["status"]["S"]), int(item["attempt"]["N"])
    )


def _expired(item: dict[str, Any]) -> bool:
    ttl = item.get(TTL_ATTRIBUTE)
    return ttl is not None and int(ttl["N"]) <= int(time.time())


def _cancellation_codes(exc: ClientError) -> list[str]:
    if error_code(exc) != "TransactionCanceledException":
        return []
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]
