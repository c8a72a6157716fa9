"""CPU seconds spent by this process and by a local PostgreSQL server, for ratios that hold on
a shared machine.

On 2 cores shared with other work, wall-clock ratios swing with the load (the same code measured
0.37x and 0.59x an hour apart). The CPU time both sides spend per row does not depend on how
much of a core they were given, so a benchmark prints it beside the wall times: `Meter.start()`
before a run and `Meter.stop()` after it give (client, server) CPU seconds.

The server's share is read from /proc: the postmaster's own time and that of its exited
children (backends of closed connections are reaped into its cumulative time), plus its live
children (backends, WAL writer, checkpointer). A backend's time moves to the postmaster only
once it has exited and been reaped, so both ends wait (a few seconds at most) until no client
backend is left: the runs close their connections. Asynchronous work (a checkpoint) may still
land in a neighbouring run. A server that is not local, or whose processes cannot be read, gives
None.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")


def _times(pid: int) -> tuple[float, float]:
    """(own user+system, exited children's user+system) seconds of one process."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields after the name: state ppid ... ; utime stime cutime cstime are 14-17 (1-based)
    utime, stime, cutime, cstime = (int(v) for v in after_name[11:15])
    return (utime + stime) / _TICK, (cutime + cstime) / _TICK


def _parent(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def postmaster_pid(dsn: str) -> int | None:
    """The server's postmaster pid when it runs on this machine and /proc shows it."""
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        pid = int(Path(str(row[0] if row else ""), "postmaster.pid").read_text().split()[0])
        _times(pid)
    except (OSError, ValueError, IndexError, psycopg.Error):
        return None
    return pid


def _children(pid: int) -> list[str]:
    return [e for e in os.listdir("/proc") if e.isdigit() and _parent(e) == pid]


def _settle(pid: int, timeout_s: float = 10.0) -> None:
    """Wait until the server has no client backend left (each closed connection reaped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        clients = 0
        for child in _children(pid):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            clients += b"(" in command or b"[local]" in command  # "... 127.0.0.1(port) idle"
        if not clients:
            return
        time.sleep(0.02)


def server_seconds(pid: int) -> float:
    """CPU seconds of the server so far: the postmaster, its reaped and its live children."""
    own, reaped = _times(pid)
    total = own + reaped
    for entry in _children(pid):
        try:
            total += _times(int(entry))[0]
        except OSError:  # ended meanwhile: its time is in `reaped` next time
            continue
    return total


def client_seconds() -> float:
    """CPU seconds of this process, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU of this process and of the server (None when the server cannot be read)."""

    def __init__(self, dsn: str) -> None:
        self.pid = postmaster_pid(dsn)
        self._at = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        if self.pid is None:
            return client_seconds(), 0.0
        _settle(self.pid)
        return client_seconds(), server_seconds(self.pid)

    def start(self) -> None:
        self._at = self._now()

    def stop(self) -> tuple[float, float | None]:
        client, server = self._now()
        used = client - self._at[0], server - self._at[1]
        return used[0], used[1] if self.pid is not None else None
