"""Running a scenario and what comes out: the observations (streamed) and the ground truth.

`Simulation` is iterable: it yields observations in `observed_at` order while the simulated
clock advances, and fills `truth` when the iteration ends. `run` does it all in memory (tests and
the replay's accuracy checks); the CLI streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.alblog import emit_successes
from gapwatch.recorder.sim.clock import Clock
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.evidence import hold_us
from gapwatch.recorder.sim.scenario import Scenario, params
from gapwatch.recorder.sim.world import World

STEP_US = us(10)


@dataclass(frozen=True, slots=True)
class Window:
    cluster: str
    service: str
    node: str
    cls: str
    start: str
    end: str
    start_us: int
    end_us: int

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / 1e6


@dataclass(frozen=True, slots=True)
class Request:
    cluster: str
    service: str
    node: str
    at: str
    outcome: str
    at_us: int


@dataclass(frozen=True, slots=True)
class Rollout:
    cluster: str
    service: str
    workload: str
    revision_from: str
    revision_to: str
    start: str
    end: str
    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class Truth:
    """The ground truth of one run. `*_us` fields are microseconds since the scenario's start."""

    params: dict[str, Any]
    windows: tuple[Window, ...]
    requests: tuple[Request, ...]
    rollouts: tuple[Rollout, ...]

    def lines(self) -> Iterator[dict[str, Any]]:
        """The truth file's records, params first (docs/simulator.md, Truth file)."""
        yield {"type": "params", **self.params}
        for r in self.rollouts:
            yield {
                "type": "rollout",
                "cluster": r.cluster,
                "service": r.service,
                "workload": r.workload,
                "revision_from": r.revision_from,
                "revision_to": r.revision_to,
                "start": r.start,
                "end": r.end,
            }
        for w in self.windows:
            yield {
                "type": "window",
                "cluster": w.cluster,
                "service": w.service,
                "node": w.node,
                "class": w.cls,
                "start": w.start,
                "end": w.end,
            }
        for q in self.requests:
            yield {
                "type": "request",
                "cluster": q.cluster,
                "service": q.service,
                "node": q.node,
                "at": q.at,
                "outcome": q.outcome,
            }

    def write(self, out: IO[bytes]) -> int:
        count = 0
        for line in self.lines():
            out.write(orjson.dumps(line) + b"\n")
            count += 1
        return count

    def save(self, path: str | Path) -> int:
        with open(path, "wb") as out:
            return self.write(out)


class Simulation:
    """One run of `scenario` with `seed`; iterate it for the observations, then read `truth`."""

    def __init__(self, scenario: Scenario, seed: int = 1) -> None:
        self.scenario = scenario
        self.seed = seed
        self.truth: Truth | None = None
        self.world: World | None = None
        self.on_progress: Callable[[float], None] | None = None

    def __iter__(self) -> Iterator[Observation]:
        w = self.world = World(self.scenario, self.seed)
        yield from drive(w, self.on_progress)
        self.truth = _truth(w, self.seed)
        if w.s.observe.access_log:
            emit_successes(w, self.seed)
        yield from w.emit.release(None)


def drive(w: World, on_progress: Callable[[float], None] | None = None) -> Iterator[Observation]:
    """Bootstrap `w` and run it to the scenario's end, yielding observations as time passes;
    the truth is finished, the observations still queued at the end are left to the caller."""
    end = us(w.s.duration_s)
    w.bootstrap()
    hold = hold_us(w)
    t = 0
    while t < end:
        t = min(t + STEP_US, end)
        w.loop.run_until(t)
        yield from w.emit.release(t - hold)
        if on_progress is not None:
            on_progress(t / 1e6)
    w.truth.finish(end)


@dataclass(frozen=True, slots=True)
class SimResult:
    observations: list[Observation]
    truth: Truth


def run(scenario: Scenario, seed: int = 1) -> SimResult:
    """Simulate in memory: every observation and the truth."""
    sim = Simulation(scenario, seed)
    observations = list(sim)
    assert sim.truth is not None
    return SimResult(observations, sim.truth)


def _truth(w: World, seed: int) -> Truth:
    s = w.s
    clock: Clock = w.clock
    service = f"{s.service.namespace}/{s.service.name}"
    fmt = clock.micro
    return Truth(
        params=params(s, seed),
        windows=tuple(
            Window(
                s.cluster,
                service,
                x.node,
                x.cls,
                fmt(x.start_us),
                fmt(x.end_us),
                x.start_us,
                x.end_us,
            )
            for x in w.truth.windows
        ),
        requests=tuple(
            Request(s.cluster, service, q.node, fmt(q.at_us), q.outcome, q.at_us)
            for q in w.truth.requests
        ),
        rollouts=tuple(
            Rollout(
                s.cluster,
                service,
                r.workload,
                r.revision_from,
                r.revision_to,
                fmt(r.start_us),
                fmt(r.end_us or r.start_us),
                r.start_us,
                r.end_us or 0,
            )
            for r in w.truth.rollouts
        ),
    )
