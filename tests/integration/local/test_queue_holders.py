"""A lease held by a process that no longer exists is released at once; a live or foreign
holder's lease holds. Real processes, real SQLite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from autovid.adapters.local.db import Database
from autovid.adapters.local.sqlite_queue import SqliteJobQueue

LEASE_S = 60.0  # far longer than the test: only the holder check can bring the message back

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from autovid.adapters.local.db import Database
    from autovid.adapters.local.sqlite_queue import SqliteJobQueue

    queue = SqliteJobQueue(Database(Path(sys.argv[1])), lease_s=60.0)
    (message,) = queue.receive(max_messages=1, wait_s=5)
    print(message.job_id, flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)  # no release, no cleanup
    sys.stdin.read()  # "live": hold the lease until the test closes stdin
    """
)


def child(db_path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_the_lease_of_a_killed_holder_is_released_at_once(tmp_path: Path) -> None:
    db_path = tmp_path / "q.db"
    queue = SqliteJobQueue(Database(db_path), lease_s=LEASE_S)
    queue.send("job-1")
    holder = child(db_path, "die")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "job-1"
    holder.wait(10)

    (message,) = queue.receive(max_messages=1, wait_s=1.0)

    assert message.job_id == "job-1" and message.receive_count == 2


def test_a_live_holder_keeps_its_lease(tmp_path: Path) -> None:
    db_path = tmp_path / "q.db"
    queue = SqliteJobQueue(Database(db_path), lease_s=LEASE_S)
    queue.send("job-1")
    holder = child(db_path, "live")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "job-1"
        assert queue.receive(max_messages=1, wait_s=0.3) == []
    finally:
        holder.communicate("")


def test_a_holder_on_another_machine_keeps_its_lease(tmp_path: Path) -> None:
    db = Database(tmp_path / "q.db")
    queue = SqliteJobQueue(db, lease_s=LEASE_S)
    queue.send("job-1")
    queue.receive(max_messages=1)
    with db.transaction() as conn:  # as a worker of another host would have written it
        conn.execute("UPDATE messages SET holder = 'other-boot-id/4026531836/1/1'")

    assert queue.receive(max_messages=1, wait_s=0.3) == []
