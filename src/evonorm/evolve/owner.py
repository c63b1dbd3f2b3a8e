"""Who holds a RUNNING trial, and whether they are still alive.

A worker stamps each trial it evaluates with ``{"host", "pid", "start"}``; ``start`` is the
process's start time (Linux: clock ticks since boot from ``/proc/PID/stat``), so a recycled pid is
not mistaken for the worker. Liveness is only decidable on the same host: a trial held on another
host counts as alive here (RDB storages catch those through heartbeats).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["is_alive", "this_process"]


def _start_time(pid: int) -> str | None:
    """The process's start time, or None if there is no such process."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.exists() and Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # Fields after the command name (which may contain spaces): state is field 3, start
        # time field 22. A zombie (killed, not yet reaped by its parent) is not running.
        fields = text.rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    try:  # no procfs: pid existence only
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""
    return ""


def this_process() -> dict:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid) or ""}


def is_alive(owner: dict) -> bool:
    """False only when ``owner`` is a process of this host that no longer runs."""
    if owner.get("host") != socket.gethostname() or "pid" not in owner:
        return True
    start = _start_time(int(owner["pid"]))
    if start is None:
        return False
    return not owner.get("start") or not start or start == owner["start"]
