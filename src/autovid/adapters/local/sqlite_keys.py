"""``KeyStore`` on SQLite: hashed keys, per-key usage plans and their usage, shared by every
process on the data folder.

``admit`` is one short ``BEGIN IMMEDIATE`` transaction: find the key by its hash, refill its token
bucket, count the request, write the usage back. The write lock makes the check-and-count atomic
across the API's threads and any other process serving the same folder.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

from autovid.adapters.local.db import Database
from autovid.auth.keys import (
    ApiKey,
    ForbiddenError,
    KeyNotFoundError,
    KeyStore,
    RateLimitedError,
    check_name,
    generate_key,
    hash_key,
)
from autovid.auth.plans import Usage, UsagePlan, admit, utc_day

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    rate_per_s REAL NOT NULL,
    burst INTEGER NOT NULL,
    quota_per_day INTEGER,
    tokens REAL NOT NULL,
    refilled_at REAL NOT NULL,
    day TEXT NOT NULL,
    day_count INTEGER NOT NULL DEFAULT 0,
    last_used_at REAL
)
"""
_COLUMNS = (
    "key_id, name, created_at, revoked_at, rate_per_s, burst, quota_per_day, tokens, refilled_at, day, "
    "day_count, last_used_at"
)


class SqliteKeyStore(KeyStore):
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        db.ensure_schema("api_keys", _SCHEMA)

    def create(self, *, name: str, plan: UsagePlan | None = None) -> tuple[ApiKey, str]:
        plan = plan or UsagePlan()
        key_id, secret = generate_key()
        now_s = self._clock()
        usage = Usage.fresh(plan, now_s)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, key_hash, name, created_at, rate_per_s, burst, quota_per_day,"
                " tokens, refilled_at, day, day_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    hash_key(secret),
                    check_name(name),
                    now_s,
                    plan.rate_per_s,
                    plan.burst,
                    plan.quota_per_day,
                    usage.tokens,
                    usage.refilled_at_s,
                    usage.day,
                    usage.day_count,
                ),
            )
        return self.get(key_id), secret

    def list(self) -> list[ApiKey]:
        rows = (
            self._db.connection().execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        )
        today = utc_day(self._clock())
        return [_api_key(row, today) for row in rows]

    def get(self, key_id: str) -> ApiKey:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        if row is None:
            raise KeyNotFoundError(f"no API key with id '{key_id}'")
        return _api_key(row, utc_day(self._clock()))

    def revoke(self, key_id: str) -> ApiKey:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (self._clock(), key_id),
            )
        if cur.rowcount == 0:
            raise KeyNotFoundError(f"no API key with id '{key_id}'")
        return self.get(key_id)

    def set_plan(self, key_id: str, plan: UsagePlan) -> ApiKey:
        with self._db.transaction() as conn:
            # A new plan starts with a full bucket; today's count still counts against its quota.
            cur = conn.execute(
                "UPDATE api_keys SET rate_per_s = ?, burst = ?, quota_per_day = ?, tokens = ?,"
                " refilled_at = ? WHERE key_id = ?",
                (plan.rate_per_s, plan.burst, plan.quota_per_day, float(plan.burst), self._clock(), key_id),
            )
        if cur.rowcount == 0:
            raise KeyNotFoundError(f"no API key with id '{key_id}'")
        return self.get(key_id)

    def admit(self, secret: str) -> str:
        key_hash = hash_key(secret)
        with self._db.transaction() as conn:
            now_s = self._clock()
            row = conn.execute(
                "SELECT key_id, revoked_at, rate_per_s, burst, quota_per_day, tokens, refilled_at, day,"
                " day_count FROM api_keys WHERE key_hash = ?",
                (key_hash,),
            ).fetchone()
            if row is None or row["revoked_at"] is not None:
                raise ForbiddenError("unknown or revoked API key")
            decision = admit(_plan(row), _usage(row), now_s)
            usage = decision.usage
            conn.execute(
                "UPDATE api_keys SET tokens = ?, refilled_at = ?, day = ?, day_count = ?,"
                " last_used_at = CASE WHEN ? THEN ? ELSE last_used_at END WHERE key_id = ?",
                (
                    usage.tokens,
                    usage.refilled_at_s,
                    usage.day,
                    usage.day_count,
                    decision.allowed,
                    now_s,
                    row["key_id"],
                ),
            )
        if not decision.allowed:
            raise RateLimitedError(f"usage plan exceeded ({decision.reason})", decision.retry_after_s)
        return str(row["key_id"])


def _plan(row: sqlite3.Row) -> UsagePlan:
    return UsagePlan(
        rate_per_s=float(row["rate_per_s"]), burst=int(row["burst"]), quota_per_day=row["quota_per_day"]
    )


def _usage(row: sqlite3.Row) -> Usage:
    return Usage(
        tokens=float(row["tokens"]),
        refilled_at_s=float(row["refilled_at"]),
        day=str(row["day"]),
        day_count=int(row["day_count"]),
    )


def _api_key(row: sqlite3.Row, today: str) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        plan=_plan(row),
        created_at=_time(row["created_at"]),  # type: ignore[arg-type]
        revoked_at=_time(row["revoked_at"]),
        last_used_at=_time(row["last_used_at"]),
        requests_today=int(row["day_count"]) if row["day"] == today else 0,
    )


def _time(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)
