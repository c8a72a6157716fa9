"""The lab's start (recorder/lab/session.py `start_recorders`): a replica slow to start is waited
for, not killed and started again, and the simulation's first instant moves after it. Issue 17:
at load 10 a recorder took about 16 s to its first log line, the lab killed the replicas that were
not ready `lead_s` after their start and started them again with twice the lead, each retry from
zero, and runs gave no result. In-process (open_lab, record_run, the ledger): no replay, no
baseline, a 5 s simulation."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

from gapwatch.recorder.lab.pg import LabStore
from gapwatch.recorder.lab.procs import RecorderProcess
from gapwatch.recorder.lab.run import count_transitions
from gapwatch.recorder.lab.session import Lab, LabSettings, open_lab, record_run
from tests.lab.labcli import SPEED

#: The first replica's launcher sleeps this long (wall seconds) before it execs the recorder:
#: longer than the lead, after which the old lab killed both replicas and started two new ones
#: with twice the lead (each retry from zero).
SLOW_S = 1.0
#: Short, to keep the test short: the first states the script makes last (the first second of
#: seed-3node), so first looks made after the first instant still see every one of them.
LEAD_S = 0.5
LAUNCH_LATE = (
    "import os, sys, time; time.sleep(float(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])"
)


def _started_at(proc: RecorderProcess) -> float:
    """When its log first said it had started (Unix seconds)."""
    for event in proc.log_events():
        if event.get("event") == "starting":
            return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"recorder pid {proc.pid} never said it started")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_replica_slow_to_start_is_kept_and_the_run_loses_nothing(
    pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[RecorderProcess] = []
    plain = Lab.new_recorder

    def new_recorder(lab: Lab, name: str = "recorder") -> RecorderProcess:
        proc = plain(lab, name)
        if not made:
            proc.command = [sys.executable, "-c", LAUNCH_LATE, str(SLOW_S), *proc.command]
        made.append(proc)
        return proc

    monkeypatch.setattr(Lab, "new_recorder", new_recorder)
    settings = LabSettings(speed=float(SPEED), duration_s=5.0, lead_s=LEAD_S)
    with open_lab(settings, LabStore(given=pg_empty_url), lambda _line: None) as lab:
        record_run(lab, [], lambda _line: None)
        counts = count_transitions(lab, None)
        started = [_started_at(p) for p in made]
        t0 = lab.t0
    # the same two processes throughout, each started once: none was killed and replaced
    assert [p.starts for p in made] == [1, 1], f"{len(made)} recorders made"
    # the first instant was named after the slow one had started, not before
    assert max(started) < t0
    assert counts["k8s"].expected > 0
    for kind, count in counts.items():
        assert count.lost == [] and count.duplicated == [], (kind, count)
