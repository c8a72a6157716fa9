"""The real gapwatch processes the lab runs: `gapwatch record` (as many as a fault needs) and the
one-shot commands (`db upgrade`, `gaps --json`, `simulate`), each a subprocess of this Python.

Every recorder writes its JSON log lines to its own file in the lab's work directory, so a run can
be read afterwards (`--keep`) and the spool's "full" messages can be counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from gapwatch.recorder.errors import GapwatchError

#: The console script, run through this interpreter (works in a venv and from a wheel).
GAPWATCH = [sys.executable, "-m", "gapwatch.dashboard.cli"]


class LabError(GapwatchError):
    """A lab run could not be carried out (a fake or a gapwatch process failed)."""


def gapwatch(
    *args: str, db: str | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> str:
    """Run one gapwatch command to completion; its stdout, or LabError with its stderr.

    The store `db` goes in GAPWATCH_DB, never on the command line: a `gapwatch lab --db` URL's
    password would be readable by every user of the machine in the child's `ps` line."""
    if db is not None:
        env = {**(os.environ if env is None else env), "GAPWATCH_DB": db}
    done = subprocess.run(
        [*GAPWATCH, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        command = " ".join(args[:2])
        raise LabError(f"gapwatch {command}: exit {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def gaps_json(db: str, cluster: str) -> list[dict[str, Any]]:
    """Every gap window replay finds in `db`, as `gapwatch gaps --json` prints them."""
    out = gapwatch("gaps", "--json", "--cluster", cluster, db=db)
    windows: list[dict[str, Any]] = json.loads(out or "[]")
    return windows


class RecorderProcess:
    """One `gapwatch record --config FILE` process, its log in `log_path`."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str]) -> None:
        self.config, self.log_path, self.env = config, log_path, env
        #: what `start` runs (the lab's tests prefix a launcher that starts it late)
        self.command = [*GAPWATCH, "record", "--config", str(config)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        #: the lab ended it (a fault's SIGKILL, the final SIGTERM): not a crash to restart
        self.ended_by_lab = False

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self.env,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def crashed(self) -> bool:
        """It exited on its own (Kubernetes would restart the container)."""
        return self.proc is not None and self.proc.poll() is not None and not self.ended_by_lab

    def last_error(self) -> str:
        lines = self.log_path.read_text("utf-8", "replace").splitlines()
        return lines[-1][:300] if lines else ""

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye (a node lost, the OOM killer)."""
        self.ended_by_lab = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the clean exit (it commits what it has read)."""
        self.ended_by_lab = True
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
                raise LabError(f"gapwatch record (pid {self.proc.pid}) ignored SIGTERM") from None
        return int(self.proc.returncode)

    def started(self) -> bool:
        """It has installed its signal handlers and listed (its log says `synced`)."""
        return any(e.get("event") == "synced" for e in self.log_events())

    def waiting_for_clock(self) -> bool:
        """It has started (imported, its sources built): its first clock reading waits for the
        lab's first instant, or has read it (its log says so, or has gone past)."""
        from gapwatch.recorder.lab.clock import WAITING_EVENT

        return any(e.get("event") in (WAITING_EVENT, "starting") for e in self.log_events())

    def ready(self) -> bool:
        """Every source of it is ready (its log says `ready`: listed, loaded, first looks)."""
        return any(e.get("event") == "ready" for e in self.log_events())

    def ready_at(self) -> float | None:
        """The wall time (Unix seconds) its log said `ready`, or None."""
        from datetime import datetime

        for e in self.log_events():
            if e.get("event") == "ready" and isinstance(e.get("timestamp"), str):
                return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
        return None

    def first_look(self, event: str) -> datetime | None:
        """The earliest `observed_at` (its clock: the simulation's time) of the log lines named
        `event` (the LB poller's `lb first look`), or None."""
        from gapwatch.recorder.timefmt import parse_time

        found: list[datetime] = []
        for e in self.log_events():
            if e.get("event") == event and isinstance(e.get("observed_at"), str):
                try:
                    found.append(parse_time(e["observed_at"]))
                except ValueError:
                    continue
        return min(found, default=None)

    def log_events(self) -> list[dict[str, Any]]:
        """The recorder's JSON log lines so far (lines that are not JSON are skipped)."""
        if not self.log_path.exists():
            return []
        found: list[dict[str, Any]] = []
        for line in self.log_path.read_text("utf-8", "replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                found.append(item)
        return found


def recorder_env(clock_spec: str, extra: dict[str, str]) -> dict[str, str]:
    """The recorder's environment: ours, the lab clock, the fakes' credentials."""
    from gapwatch.recorder.lab.clock import CLOCK_ENV

    env = dict(os.environ)
    for key in ("GAPWATCH_DB", "GAPWATCH_CLUSTER", "GAPWATCH_RECORD_CONFIG"):
        env.pop(key, None)
    env[CLOCK_ENV] = clock_spec
    env.update(extra)
    return env


def wait_for(predicate: Any, what: str, timeout: float) -> None:
    """Poll `predicate` every 50 ms until true; LabError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
