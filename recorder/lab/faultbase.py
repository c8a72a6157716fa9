"""The base of the lab's faults (faults.py has the catalogue): a fault picks its moments from its
own seed, schedules them on the lab's timeline (`prepare` returns (simulated second, action)
pairs), may change the lab's settings (replicas, spool, the cloud LB and its scenario), and
leaves notes, blind stretches and problems for the report (`finish`). `later` runs an action
some wall seconds on without holding up the timeline.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gapwatch.recorder.lab.session import Lab

Event = tuple[float, Callable[[], None]]


@dataclass
class Fault:
    """Base: no fault. Subclasses override `schedule`."""

    name: str
    seed: int
    long: bool = False
    #: per kind, the (checkpoint, relist) resourceVersion ranges a relist collapsed (ledger.py)
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: recorders to run at once (None: the lab's setting)
    replicas: int | None = None
    #: (from, to) simulated seconds when no recorder was looking (ledger.py: unobservable)
    blind: list[tuple[float, float]] = field(default_factory=list)
    #: (from, to) simulated seconds a watch relist passed over (compare.py: relisted)
    unknown: list[tuple[float, float]] = field(default_factory=list)
    #: the recorders' spool bound, bytes (None: the lab's setting)
    spool_bytes: int | None = None
    #: the cloud LB to run on (None: the lab's setting; cloudfaults.py)
    lb: str | None = None
    #: the simulator preset to run (None: the lab's setting; cloudfaults.py)
    scenario: str | None = None
    #: what the fault found wrong beyond the ledger (the run does not match)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: (from, to) simulated seconds `pick` draws in; None: the scenario's busy stretch (a soak
    #: gives each fault its own slot: soak.py)
    span: tuple[float, float] | None = None
    #: the simulated second after which what happens is another fault's (a soak's next slot;
    #: None: the run's end): a fault's `finish` reads its effects up to it
    until_s: float | None = None

    def __post_init__(self) -> None:
        """Subclasses set their settings here (dataclass fields shadow class attributes)."""

    def prepare(self, lab: Lab) -> list[Event]:
        self.rng = random.Random(self.seed)
        return self.schedule(lab)

    def schedule(self, lab: Lab) -> list[Event]:
        return []

    def finish(self, lab: Lab) -> list[str]:
        return [f"{self.name} (seed {self.seed}): {n}" for n in self.notes]

    def pick(self, lab: Lab, count: int) -> list[float]:
        """`count` moments (simulated s), sorted, inside `span` or else the scenario's first
        events' stretch."""
        if self.span is not None:
            lo, hi = self.span
            return sorted(self.rng.uniform(lo, hi) for _ in range(count))
        starts = [e.at_s for e in lab.scenario.events] or [lab.scenario.duration_s / 3]
        lo = max(1.0, min(starts) - 10)
        hi = min(lab.scenario.duration_s - 5, max(starts) + 60)
        return sorted(self.rng.uniform(lo, hi) for _ in range(count))

    def note(self, lab: Lab, text: str) -> None:
        self.notes.append(f"{text} at {lab.sim_now():.1f} s")


def later(lab: Lab, wall_s: float, action: Callable[[], None]) -> None:
    """Run `action` in `wall_s` without holding up the timeline (settle waits for it)."""
    timer = threading.Timer(wall_s, action)
    timer.daemon = True
    timer.start()
    lab.pending.append(timer)
