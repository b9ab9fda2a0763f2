"""``JobQueue`` on SQLite with SQS semantics: leases (visibility timeouts), receipts, a receive
count and a dead-letter table.

A receive claims visible messages atomically (``BEGIN IMMEDIATE``), counts the receive, gives the
message a fresh receipt and hides it for ``lease_s``. Only the current receipt can extend, delete
or release a message, so a worker whose lease ran out cannot touch the copy another worker now
holds. A message already received ``max_receives`` times moves to ``dead_letters`` on its next
receive, and ``on_dead_letter(job_id, receive_count)`` is told after the move commits — that is how
a job whose worker died on every attempt still ends ``failed``.

Each lease records its holder (``autovid.jobs.holder``): a message whose holder process on this
machine has ended is received again at once, so a worker killed with SIGKILL costs seconds, not a
lease.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autovid.adapters.local.db import Database
from autovid.errors import ConflictError
from autovid.jobs.holder import current_holder, holder_gone, holder_prefix
from autovid.ports import JobQueue, QueueMessage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE,
    holder TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    dead_at REAL NOT NULL,
    receive_count INTEGER NOT NULL
)
"""
_POLL_S = 0.05

DeadLetterHandler = Callable[[str, int], None]


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    job_id: str
    sent_at: float
    dead_at: float
    receive_count: int


class SqliteJobQueue(JobQueue):
    def __init__(
        self,
        db: Database,
        *,
        lease_s: float = 60.0,
        max_receives: int = 3,
        on_dead_letter: DeadLetterHandler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.lease_s = lease_s
        self.max_receives = max_receives
        self._on_dead_letter = on_dead_letter
        self._clock = clock
        db.ensure_schema("queue", _SCHEMA)
        _add_holder_column(db)
        self._holder = current_holder()
        self._holder_prefix = holder_prefix()

    def send(self, job_id: str, *, delay_s: float = 0) -> None:
        now = self._clock()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO messages (id, job_id, sent_at, visible_at) VALUES (?, ?, ?, ?)",
                (uuid.uuid4().hex, job_id, now, now + max(0.0, delay_s)),
            )

    def send_many(self, job_ids: Sequence[str]) -> None:
        now = self._clock()
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO messages (id, job_id, sent_at, visible_at) VALUES (?, ?, ?, ?)",
                [(uuid.uuid4().hex, job_id, now, now) for job_id in job_ids],
            )

    def receive(
        self, *, max_messages: int = 1, wait_s: float = 0, stop: threading.Event | None = None
    ) -> list[QueueMessage]:
        """Claim up to ``max_messages``; poll for up to ``wait_s`` (or until ``stop`` is set)."""
        deadline = time.monotonic() + wait_s
        while True:
            messages, dead = self._claim(max_messages)
            for job_id, count in dead:
                if self._on_dead_letter is not None:
                    self._on_dead_letter(job_id, count)
            if messages or time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return messages
            if stop is not None:
                stop.wait(_POLL_S)
            else:
                time.sleep(_POLL_S)

    def set_dead_letter_handler(self, handler: DeadLetterHandler) -> bool:
        """Keeps a handler given to the constructor."""
        if self._on_dead_letter is None:
            self._on_dead_letter = handler
        return True

    def extend_lease(self, message: QueueMessage, lease_s: float) -> None:
        self._by_receipt(message, "UPDATE messages SET visible_at = ? WHERE receipt = ?", lease_s)

    def release(self, message: QueueMessage, *, delay_s: float = 0) -> None:
        self._by_receipt(
            message, "UPDATE messages SET visible_at = ?, holder = NULL WHERE receipt = ?", delay_s
        )

    def delete(self, message: QueueMessage) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM messages WHERE receipt = ?", (message.receipt,))
        if cur.rowcount == 0:
            raise ConflictError(f"receipt for job '{message.job_id}' is no longer valid")

    # --- local only ----------------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        rows = self._db.read("SELECT * FROM dead_letters ORDER BY dead_at DESC, id DESC")
        return [
            DeadLetter(r["id"], r["job_id"], r["sent_at"], r["dead_at"], r["receive_count"]) for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Messages by state: ``visible`` (waiting), ``in_flight`` (leased or delayed), ``dead``."""
        now = self._clock()
        ((visible, total),) = self._db.read(
            "SELECT COALESCE(SUM(visible_at <= ?), 0), COUNT(*) FROM messages", (now,)
        )
        ((dead,),) = self._db.read("SELECT COUNT(*) FROM dead_letters")
        return {"visible": int(visible), "in_flight": int(total - visible), "dead": int(dead)}

    # --- internals -----------------------------------------------------------------------------

    def _claim(self, max_messages: int) -> tuple[list[QueueMessage], list[tuple[str, int]]]:
        now = self._clock()
        claimed: list[QueueMessage] = []
        dead: list[tuple[str, int]] = []
        with self._db.transaction() as conn:
            for row in self._candidates(conn, now, max_messages):
                if row["receive_count"] >= self.max_receives:
                    self._move_to_dead_letters(conn, row, now)
                    dead.append((row["job_id"], row["receive_count"]))
                    continue
                if len(claimed) >= max_messages:
                    break
                receipt = f"{row['id']}.{secrets.token_hex(16)}"
                conn.execute(
                    "UPDATE messages SET receive_count = receive_count + 1, receipt = ?, visible_at = ?,"
                    " holder = ? WHERE id = ?",
                    (receipt, now + self.lease_s, self._holder, row["id"]),
                )
                claimed.append(QueueMessage(row["job_id"], receipt, row["receive_count"] + 1))
        return claimed, dead

    def _candidates(self, conn: sqlite3.Connection, now: float, max_messages: int) -> list[sqlite3.Row]:
        """Visible messages, then leased ones whose holder process on this machine has ended."""
        columns = "id, job_id, sent_at, receive_count, holder"
        rows = conn.execute(
            f"SELECT {columns} FROM messages WHERE visible_at <= ? ORDER BY visible_at, sent_at LIMIT ?",
            (now, max(1, max_messages) * 4),
        ).fetchall()
        if self._holder_prefix is None:
            return rows
        leased = conn.execute(
            f"SELECT {columns} FROM messages WHERE visible_at > ? AND holder IS NOT NULL"
            " AND substr(holder, 1, ?) = ? ORDER BY visible_at",
            (now, len(self._holder_prefix), self._holder_prefix),
        ).fetchall()
        return rows + [row for row in leased if holder_gone(row["holder"])]

    @staticmethod
    def _move_to_dead_letters(conn, row, now: float) -> None:  # type: ignore[no-untyped-def]
        conn.execute(
            "INSERT INTO dead_letters (id, job_id, sent_at, dead_at, receive_count) VALUES (?, ?, ?, ?, ?)",
            (row["id"], row["job_id"], row["sent_at"], now, row["receive_count"]),
        )
        conn.execute("DELETE FROM messages WHERE id = ?", (row["id"],))

    def _by_receipt(self, message: QueueMessage, sql: str, delay_s: float) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute(sql, (self._clock() + max(0.0, delay_s), message.receipt))
        if cur.rowcount == 0:
            raise ConflictError(f"receipt for job '{message.job_id}' is no longer valid")


def _add_holder_column(db: Database) -> None:
    # Databases made before leases recorded their holder lack the column.
    columns = {row["name"] for row in db.read("PRAGMA table_info(messages)")}
    if "holder" not in columns:
        with db.transaction() as conn:
            if "holder" not in {r["name"] for r in conn.execute("PRAGMA table_info(messages)")}:
                conn.execute("ALTER TABLE messages ADD COLUMN holder TEXT")
