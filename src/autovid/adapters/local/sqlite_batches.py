"""``TemplateStore`` and ``BatchStore`` on SQLite, in the database the jobs live in.

Counters are columns of the batch's row, changed in the same ``BEGIN IMMEDIATE`` transaction that
moves a batch row, so concurrent workers never lose an increment.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

from autovid.adapters.local.db import Database
from autovid.errors import BatchNotFoundError, ConflictError, TemplateNotFoundError
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

_TEMPLATES = """
CREATE TABLE IF NOT EXISTS templates (
    owner TEXT NOT NULL,
    template_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (owner, template_id, version)
)
"""
_BATCHES = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    idempotency_key TEXT,
    expires_at INTEGER,
    record TEXT NOT NULL,
    total INTEGER NOT NULL,
    submitted INTEGER NOT NULL,
    processing INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    cancelled INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_idempotency ON batches (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS batch_rows (
    batch_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    PRIMARY KEY (batch_id, row)
)
"""
_COUNTERS = ("total", "submitted", "processing", "completed", "failed", "cancelled")
_BATCH_FIELDS = {f.name for f in dataclasses.fields(Batch)} - {"batch_id", "owner", "counts"}


class SqliteTemplateStore(TemplateStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("templates", _TEMPLATES)

    def create(self, template: StoredTemplate) -> StoredTemplate:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO templates (owner, template_id, version, record) VALUES (?, ?, ?, ?)",
                (template.owner, template.template_id, template.version, _dump(template)),
            )
        return template

    def get(self, owner: str, template_id: str, *, version: int | None = None) -> StoredTemplate | None:
        sql = "SELECT record FROM templates WHERE owner = ? AND template_id = ?"
        params: list[Any] = [owner, template_id]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        rows = self._db.read(sql + " ORDER BY version DESC LIMIT 1", params)
        return template_from_record(json.loads(rows[0]["record"])) if rows else None

    def put_version(self, owner: str, template_id: str, document: dict[str, Any]) -> StoredTemplate:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT record FROM templates WHERE owner = ? AND template_id = ?"
                " ORDER BY version DESC LIMIT 1",
                (owner, template_id),
            ).fetchone()
            if row is None:
                raise TemplateNotFoundError(f"template '{template_id}' not found")
            latest = template_from_record(json.loads(row["record"]))
            new = dataclasses.replace(
                latest, version=latest.version + 1, document=document, updated_at=utcnow()
            )
            conn.execute(
                "INSERT INTO templates (owner, template_id, version, record) VALUES (?, ?, ?, ?)",
                (owner, template_id, new.version, _dump(new)),
            )
        return new

    def delete(self, owner: str, template_id: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM templates WHERE owner = ? AND template_id = ?", (owner, template_id)
            )
        return cur.rowcount > 0

    def list(
        self, owner: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredTemplate], str | None]:
        limit = max(1, min(int(limit), 1000))
        rows = self._db.read(
            "SELECT t.record FROM templates t WHERE t.owner = ? AND t.template_id > ?"
            " AND t.version = (SELECT MAX(version) FROM templates WHERE owner = t.owner"
            " AND template_id = t.template_id) ORDER BY t.template_id LIMIT ?",
            (owner, cursor or "", limit + 1),
        )
        templates = [template_from_record(json.loads(r["record"])) for r in rows[:limit]]
        return templates, (templates[-1].template_id if len(rows) > limit else None)


class SqliteBatchStore(BatchStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("batches", _BATCHES)

    def create(self, batch: Batch, rows: Sequence[BatchRow]) -> Batch:
        now_s = int(time.time())
        with self._db.transaction() as conn:
            if batch.idempotency_key is not None:
                held = conn.execute(
                    "SELECT * FROM batches WHERE owner = ? AND idempotency_key = ?",
                    (batch.owner, batch.idempotency_key),
                ).fetchone()
                if held is not None and not _expired(held["expires_at"], now_s):
                    return _batch(held)
                if held is not None:  # an expired batch no longer holds its key
                    conn.execute("DELETE FROM batch_rows WHERE batch_id = ?", (held["batch_id"],))
                    conn.execute("DELETE FROM batches WHERE batch_id = ?", (held["batch_id"],))
            counts = batch.counts
            conn.execute(
                "INSERT INTO batches (batch_id, owner, idempotency_key, expires_at, record, total, submitted,"
                " processing, completed, failed, cancelled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.batch_id,
                    batch.owner,
                    batch.idempotency_key,
                    batch.expires_at,
                    json.dumps(batch_to_record(batch)),
                    *(getattr(counts, name) for name in _COUNTERS),
                ),
            )
            conn.executemany(
                "INSERT INTO batch_rows (batch_id, row, job_id, status, attempt) VALUES (?, ?, ?, ?, ?)",
                [(batch.batch_id, r.row, r.job_id, r.status.value, r.attempt) for r in rows],
            )
        return batch

    def get(self, batch_id: str) -> Batch | None:
        rows = self._db.read("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
        if not rows or _expired(rows[0]["expires_at"], int(time.time())):
            return None
        return _batch(rows[0])

    def rows(
        self, batch_id: str, *, start: int = 0, limit: int = 100, status: RowStatus | None = None
    ) -> list[BatchRow]:
        sql = "SELECT row, job_id, status, attempt FROM batch_rows WHERE batch_id = ? AND row >= ?"
        params: list[Any] = [batch_id, start]
        if status is not None:
            sql += " AND status = ?"
            params.append(RowStatus(status).value)
        found = self._db.read(sql + " ORDER BY row LIMIT ?", [*params, max(1, limit)])
        return [BatchRow(r["row"], r["job_id"], RowStatus(r["status"]), r["attempt"]) for r in found]

    def move_row(
        self, batch_id: str, row: int, *, job_id: str, to: RowStatus, new_job_id: str | None = None
    ) -> Batch | None:
        with self._db.transaction() as conn:
            current = conn.execute(
                "SELECT job_id, status FROM batch_rows WHERE batch_id = ? AND row = ?", (batch_id, row)
            ).fetchone()
            if current is None or current["job_id"] != job_id:
                return None
            was = RowStatus(current["status"])
            if was not in ALLOWED_FROM[to]:
                return None
            conn.execute(
                "UPDATE batch_rows SET status = ?, job_id = ?, attempt = attempt + ?"
                " WHERE batch_id = ? AND row = ?",
                (to.value, new_job_id or job_id, 1 if new_job_id else 0, batch_id, row),
            )
            # Column names come from RowStatus values, never from input.
            conn.execute(
                f"UPDATE batches SET {was.value} = {was.value} - 1, {to.value} = {to.value} + 1"
                " WHERE batch_id = ?",
                (batch_id,),
            )
            updated = conn.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return _batch(updated)

    def update(
        self, batch_id: str, changes: dict[str, Any], *, expect: dict[str, Any] | None = None
    ) -> Batch:
        unknown = set(changes) - _BATCH_FIELDS
        if unknown:
            raise ValueError(f"unknown batch fields: {', '.join(sorted(unknown))}")
        with self._db.transaction() as conn:
            row = conn.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if row is None or _expired(row["expires_at"], int(time.time())):
                raise BatchNotFoundError(f"batch '{batch_id}' not found")
            batch = _batch(row)
            for name, value in (expect or {}).items():
                if getattr(batch, name) != value:
                    raise ConflictError(f"batch '{batch_id}' changed: {name} is no longer {value!r}")
            updated = dataclasses.replace(batch, **{"updated_at": utcnow(), **changes})
            conn.execute(
                "UPDATE batches SET record = ? WHERE batch_id = ?",
                (json.dumps(batch_to_record(updated)), batch_id),
            )
        return updated


def _batch(row: Any) -> Batch:
    counts = Counts(**{name: int(row[name]) for name in _COUNTERS})
    return batch_from_record(json.loads(row["record"]), counts)


def _dump(template: StoredTemplate) -> str:
    return json.dumps(template_to_record(template))


def _expired(expires_at: int | None, now_s: int) -> bool:
    return expires_at is not None and expires_at <= now_s
