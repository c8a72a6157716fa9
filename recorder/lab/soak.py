"""A long lab run with the faults in turn (benchmarks/soak.py): the recorder's months compressed.

`Soak` is a fault made of other faults (faults.py's catalogue): the run is cut into equal slots,
one per fault of the cycle, repeated until the run ends, and each fault draws its moments inside
its own slot (short versions, so that one ends before the next begins). Whatever each one leaves
for the verdict (relist gaps, blind stretches, relisted stretches, problems, notes) is merged, so
the lab's ledger judges the whole run as it judges one fault: nothing lost, nothing duplicated.

`Sampler` reads each recorder process's resident memory, open file descriptors and threads from
/proc every `every_s` wall seconds; `growth` fits a line to a process's memory after its warm-up:
a leak shows as a slope that does not fall as the run grows longer.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gapwatch.recorder.lab.faultbase import Event, Fault

if TYPE_CHECKING:
    from gapwatch.recorder.lab.session import Lab

#: The faults a soak cycles through by default: each keeps two replicas running (sigkill
#: restarts its victim; takeover and sigkill-all leave fewer or none, the cloud runs change the
#: LB, clock-jump acts once at the start: run those as faults of their own).
DEFAULT_CYCLE = (
    "watch-drop",
    "gone-410",
    "sigkill",
    "probe-timeout",
    "apiserver-restart",
    "pg-stop",
    "watch-stall",
    "elb-throttle",
    "probe-refused",
    "poison",
)
#: Faults a soak refuses (see DEFAULT_CYCLE).
REFUSED = ("takeover", "sigkill-all", "clock-jump")


@dataclass
class Soak(Fault):
    """The faults of `cycle` in turn, each in its own slot of `slot_s` simulated seconds."""

    cycle: Sequence[str] = DEFAULT_CYCLE
    slot_s: float = 300.0
    #: pg-stop starts the server again with its own defaults (fsync on), not the tests' settings
    durable: bool = True
    children: list[Fault] = field(default_factory=list)

    def schedule(self, lab: Lab) -> list[Event]:
        from gapwatch.recorder.lab.faults import PgStop, make_fault

        refused = [name for name in self.cycle if name in REFUSED]
        if refused:
            from gapwatch.recorder.errors import ConfigError

            raise ConfigError(f"a soak cannot cycle {', '.join(refused)} (see DEFAULT_CYCLE)")
        events: list[Event] = []
        end = lab.scenario.duration_s - self.slot_s / 4
        starts = slots(lab.scenario.duration_s, self.slot_s) if self.cycle else []
        for k, lo in enumerate(starts):
            child = make_fault(self.cycle[k % len(self.cycle)], self.seed * 1000 + k)
            if isinstance(child, PgStop):
                child.durable = self.durable
            child.span = (lo, min(lo + self.slot_s / 2, end))
            child.until_s = lo + self.slot_s
            events += child.prepare(lab)
            self.children.append(child)
        return events

    def finish(self, lab: Lab) -> list[str]:
        notes: list[str] = []
        for child in self.children:
            notes += child.finish(lab)
            for kind, ranges in child.gaps.items():
                self.gaps.setdefault(kind, []).extend(ranges)
            self.blind += child.blind
            self.unknown += child.unknown
            self.problems += child.problems
        return notes + super().finish(lab)


def slots(duration_s: float, slot_s: float) -> list[float]:
    """The slots' starts (simulated s): the first after one slot of quiet (listing, first
    looks), none that would end past the run."""
    if slot_s <= 0:
        raise ValueError("slot_s must be positive")
    starts = []
    at = slot_s
    while at + slot_s <= duration_s:
        starts.append(at)
        at += slot_s
    return starts


@dataclass
class Sample:
    wall: float
    pid: int
    rss_kb: int
    fds: int
    threads: int


@dataclass
class Sampler:
    """Samples every live recorder of `lab` every `every_s` wall seconds, in a thread."""

    lab: Lab
    every_s: float = 5.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            now = time.time()
            for proc in list(self.lab.recorders):
                pid = proc.pid
                if pid is not None and proc.alive():
                    sample = read_proc(pid, now)
                    if sample is not None:
                        self.samples.append(sample)


def read_proc(pid: int, wall: float) -> Sample | None:
    """One process's resident memory (kB), open descriptors and threads; None once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
        status = dict(line.split(":", 1) for line in lines if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return Sample(
        wall, pid, int(status["VmRSS"].split()[0]), fds, int(status["Threads"].split()[0])
    )


@dataclass(frozen=True)
class Growth:
    pid: int
    minutes: float
    rss_first_mb: float
    rss_last_mb: float
    rss_max_mb: float
    slope_mb_per_h: float
    fds: tuple[int, int]
    threads: tuple[int, int]


def growth(samples: Sequence[Sample], warmup_s: float) -> list[Growth]:
    """Per process, its samples after `warmup_s` of its life: memory first, last and highest,
    the least-squares slope of memory over time (MB an hour), and the least and most
    descriptors and threads. Processes with fewer than 3 samples after warm-up are left out."""
    by_pid: dict[int, list[Sample]] = {}
    for s in samples:
        by_pid.setdefault(s.pid, []).append(s)
    out = []
    for pid, own in sorted(by_pid.items()):
        born = own[0].wall
        kept = [s for s in own if s.wall - born >= warmup_s]
        if len(kept) < 3:
            continue
        xs = [s.wall - kept[0].wall for s in kept]
        ys = [s.rss_kb / 1024 for s in kept]
        out.append(
            Growth(
                pid,
                (xs[-1] - xs[0]) / 60,
                ys[0],
                ys[-1],
                max(ys),
                slope(xs, ys) * 3600,
                (min(s.fds for s in kept), max(s.fds for s in kept)),
                (min(s.threads for s in kept), max(s.threads for s in kept)),
            )
        )
    return out


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ys over xs (0 when xs do not vary)."""
    try:
        return statistics.linear_regression(xs, ys).slope
    except statistics.StatisticsError:
        return 0.0
