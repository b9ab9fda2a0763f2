"""``JobStore`` on SQLite: the whole record as JSON plus indexed columns for lookups and paging."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
from collections.abc import Collection, Sequence
from typing import Any

from autovid.adapters.local.db import Database
from autovid.errors import ConflictError, ErrorDetail, JobNotFoundError, SpecError
from autovid.jobs.model import (
    Job,
    JobStatus,
    job_from_record,
    job_to_record,
    refuse_immutable_changes,
    utcnow,
)
from autovid.ports import JobStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_us INTEGER NOT NULL,
    idempotency_key TEXT,
    expires_at INTEGER,
    record TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, submitted_us DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expires_at)
"""
_FIELDS = {f.name for f in dataclasses.fields(Job)}
_IN_CHUNK = 500  # ids per SELECT … IN (…), well under SQLite's limit on bound parameters


class SqliteJobStore(JobStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("jobs", _SCHEMA)

    def create(self, job: Job) -> Job:
        now_s = int(time.time())
        with self._db.transaction() as conn:
            if job.idempotency_key is not None:
                row = conn.execute(
                    "SELECT record, expires_at FROM jobs WHERE owner = ? AND idempotency_key = ?",
                    (job.owner, job.idempotency_key),
                ).fetchone()
                if row is not None and not _expired(row["expires_at"], now_s):
                    return job_from_record(json.loads(row["record"]))
                if row is not None:  # an expired record no longer holds its key
                    conn.execute(
                        "DELETE FROM jobs WHERE owner = ? AND idempotency_key = ?",
                        (job.owner, job.idempotency_key),
                    )
            conn.execute(
                "INSERT INTO jobs (job_id, owner, status, submitted_us, idempotency_key, expires_at, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.owner,
                    job.status.value,
                    _micros(job),
                    job.idempotency_key,
                    job.expires_at,
                    json.dumps(job_to_record(job)),
                ),
            )
        return job

    def create_many(self, jobs: Sequence[Job]) -> list[Job]:
        """One transaction for all of them: a 10 000-row batch is stored in well under a second."""
        created = []
        with self._db.transaction() as conn:
            for job in jobs:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO jobs (job_id, owner, status, submitted_us, idempotency_key,"
                    " expires_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        job.job_id,
                        job.owner,
                        job.status.value,
                        _micros(job),
                        job.idempotency_key,
                        job.expires_at,
                        json.dumps(job_to_record(job)),
                    ),
                )
                if cur.rowcount:
                    created.append(job)
        return created

    def get(self, job_id: str) -> Job | None:
        rows = self._db.read("SELECT record, expires_at FROM jobs WHERE job_id = ?", (job_id,))
        row = rows[0] if rows else None
        if row is None or _expired(row["expires_at"], int(time.time())):
            return None
        return job_from_record(json.loads(row["record"]))

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        wanted = list(dict.fromkeys(job_ids))
        now_s = int(time.time())
        found: dict[str, Job] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.read(
                f"SELECT job_id, record, expires_at FROM jobs WHERE job_id IN ({marks})", chunk
            )
            for row in rows:
                if not _expired(row["expires_at"], now_s):
                    found[row["job_id"]] = job_from_record(json.loads(row["record"]))
        return found

    def update(
        self,
        job_id: str,
        changes: dict[str, Any],
        *,
        expect_status: Collection[JobStatus] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Job:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown job fields: {', '.join(sorted(unknown))}")
        refuse_immutable_changes(changes)
        with self._db.transaction() as conn:
            row = conn.execute("SELECT record, expires_at FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or _expired(row["expires_at"], int(time.time())):
                raise JobNotFoundError(f"job '{job_id}' not found")
            job = job_from_record(json.loads(row["record"]))
            _check_expectations(job, expect_status, expect)
            updated = dataclasses.replace(job, **{"updated_at": utcnow(), **changes})
            conn.execute(
                "UPDATE jobs SET status = ?, expires_at = ?, record = ? WHERE job_id = ?",
                (updated.status.value, updated.expires_at, json.dumps(job_to_record(updated)), job_id),
            )
        return updated

    def list(
        self, owner: str, *, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        limit = max(1, min(int(limit), 1000))
        sql = "SELECT record FROM jobs WHERE owner = ? AND (expires_at IS NULL OR expires_at > ?)"
        params: list[Any] = [owner, int(time.time())]
        if status is not None:
            sql += " AND status = ?"
            params.append(JobStatus(status).value)
        if cursor:
            after_us, after_id = decode_cursor(cursor)
            sql += " AND (submitted_us < ? OR (submitted_us = ? AND job_id < ?))"
            params += [after_us, after_us, after_id]
        sql += " ORDER BY submitted_us DESC, job_id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._db.read(sql, params)
        jobs = [job_from_record(json.loads(r["record"])) for r in rows[:limit]]
        next_cursor = encode_cursor(_micros(jobs[-1]), jobs[-1].job_id) if len(rows) > limit else None
        return jobs, next_cursor

    def purge_expired(self) -> list[Job]:
        """Delete the records whose TTL has passed and return them (their outputs can go too)."""
        now_s = int(time.time())
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT record FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ?", (now_s,)
            ).fetchall()
            conn.execute("DELETE FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ?", (now_s,))
        return [job_from_record(json.loads(r["record"])) for r in rows]


def _check_expectations(
    job: Job, expect_status: Collection[JobStatus] | None, expect: dict[str, Any] | None
) -> None:
    if expect_status is not None and job.status not in expect_status:
        allowed = ", ".join(sorted(JobStatus(s).value for s in expect_status))
        raise ConflictError(f"job '{job.job_id}' is {job.status.value}, expected {allowed}")
    for name, value in (expect or {}).items():
        if getattr(job, name) != value:
            raise ConflictError(f"job '{job.job_id}' changed: {name} is no longer {value!r}")


def _expired(expires_at: int | None, now_s: int) -> bool:
    return expires_at is not None and expires_at <= now_s


def _micros(job: Job) -> int:
    return int(job.submitted_at.timestamp() * 1_000_000)


def encode_cursor(submitted_us: int, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([submitted_us, job_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        submitted_us, job_id = json.loads(raw)
        if not isinstance(submitted_us, int) or not isinstance(job_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise SpecError([ErrorDetail("cursor", "is not a cursor returned by this API")]) from None
    return submitted_us, job_id
