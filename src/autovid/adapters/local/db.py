"""One SQLite database file shared by the jobs, the queue, API keys and rate limits.

WAL mode lets readers run beside one writer across processes; every process and thread gets its
own connection (SQLite connections must not cross threads or a fork); conditional transitions run
in ``BEGIN IMMEDIATE`` so the check and the write happen under the write lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autovid.errors import TransientStorageError

BUSY_TIMEOUT_MS = 30_000


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
        self._local = threading.local()
        self._schemas: set[str] = set()
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = _connect(self.path)
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first statement."""
        conn = self.connection()
        with translate_errors():
            conn.execute("BEGIN IMMEDIATE")
        try:
            with translate_errors():
                yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        with translate_errors():
            conn.execute("COMMIT")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query outside a write transaction (WAL readers never wait for the writer)."""
        with translate_errors():
            return self.connection().execute(sql, params).fetchall()

    def ensure_schema(self, name: str, statements: str) -> None:
        """Run ``CREATE … IF NOT EXISTS`` statements once per process."""
        with self._lock:
            if name in self._schemas:
                return
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._schemas.add(name)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None


@contextmanager
def translate_errors() -> Iterator[None]:
    """SQLite's "database is locked" (past the busy timeout) and disk I/O errors may pass: they
    become ``TransientStorageError``; anything else is a bug and stays as it is."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise TransientStorageError(f"SQLite database unavailable: {exc}") from exc


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only (0600): it holds webhook headers and key
    hashes. SQLite gives the -wal and -shm files it creates beside it the same mode."""
    if str(path) == ":memory:":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves instead of Python's implicit ones.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
