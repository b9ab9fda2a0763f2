"""Who holds a job: the worker process, named so that another process on the same machine can
tell at once that it is gone.

A holder is ``boot id/pid namespace/pid/start time`` (Linux). A process killed outright (SIGKILL,
the OOM killer) never gives its job back; with its holder recorded beside the lease, the next
worker that asks sees the process gone and takes the job over at once instead of waiting out the
lease. The start time tells a reused pid from the holder; the boot id and pid namespace tell
another machine or container (whose processes cannot be seen from here: their holders always
count as alive, and their leases run out as before).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

_PROC = Path("/proc")


def current_holder() -> str | None:
    """This process's holder name; None where processes cannot be inspected (not Linux)."""
    where = _machine()
    start = _start_time(os.getpid())
    if where is None or start is None:
        return None
    return f"{where}/{os.getpid()}/{start}"


def holder_gone(holder: str | None) -> bool:
    """True when ``holder`` names a process of this machine and namespace that has ended (or
    is a zombie). Unknown or foreign holders are not gone: only their lease can tell."""
    if not holder:
        return False
    where, _, rest = holder.rpartition("/")
    where, _, pid_text = where.rpartition("/")
    if where != _machine() or not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) != rest


def holder_prefix() -> str | None:
    """What every holder of this machine and pid namespace starts with (for a query)."""
    where = _machine()
    return None if where is None else f"{where}/"


@functools.cache
def _machine() -> str | None:
    try:
        boot_id = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat(_PROC / "self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot_id}/{namespace}"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None when it is gone or a zombie."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields follow the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]
