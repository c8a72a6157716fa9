"""One lab run: simulate, serve the simulation on the fakes in accelerated real time while real
`gapwatch record` processes record it into a real PostgreSQL, then stop them cleanly.

Time: the simulation's second `s` happens at wall time `t0 + s / speed`; the recorders' clock
(lab/clock.py) reads the simulation's time, so what they store is in the simulation's own time.
t0 is named once every replica has started (`start_recorders`): their clocks wait for it.
The recorders look every `interval_s` wall seconds, i.e. every `interval_s * speed` simulated
seconds: that is the lab's sampling period, and the simulator's own observers are given the same
period for the baseline (compare.py).
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from gapwatch.recorder.lab.clock import deferred_clock_spec, write_wall
from gapwatch.recorder.lab.pg import LabStore
from gapwatch.recorder.lab.procs import (
    LabError,
    RecorderProcess,
    gapwatch,
    recorder_env,
    wait_for,
)
from gapwatch.recorder.lab.world import LabWorld
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.result import SimResult
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.timefmt import parse_time

#: The prober's timeout in the lab, wall seconds: a stalled machine must not pass for a hanging
#: kube-proxy.
PROBE_TIMEOUT_WALL_S = 1.0
#: What the lab serves from a simulation (access logs are a postmortem import, not a live source).
SERVED_SOURCES = ("k8s-watch", "kube-proxy-probe", "lb-poller")
#: The simulator's observers look this often (simulated seconds) to script the fakes: fine
#: enough that the fakes change within 50 ms of the simulated world, far below any sampling here.
SCRIPT_PERIOD_S = 0.05
#: How long (wall seconds) the lab waits for its first recorders to start (imports, the store,
#: their sources built) before it gives up: about 16 s each at load 10 was seen (issue 17).
START_TIMEOUT_S = 240.0


@dataclass(frozen=True, slots=True)
class LabSettings:
    scenario: str = "seed-3node"
    seed: int = 1
    #: simulated seconds per wall second
    speed: float = 5.0
    #: the recorders' prober and poller interval, wall seconds (x speed = simulated)
    interval_s: float = 0.1
    #: override of the scenario's duration (simulated seconds)
    duration_s: float | None = None
    db: str | None = None
    keep: bool = False
    #: wall seconds from the moment every replica has started (its clock waits for the first
    #: instant) to the simulation's first instant: their listing and first looks
    lead_s: float = 4.0
    #: recorders running at once: 2 as deploy/base/deployment.yaml runs them (both record, the
    #: store dedupes); a SIGKILLed single recorder is blind while it restarts (seconds)
    replicas: int = 2
    #: the recorders' spool bound, bytes (None: the recorder's default, 16 MiB); pg-stop runs
    #: with a small one so that the outage fills it
    spool_bytes: int | None = None
    #: the cloud LB the simulated CCM drives (cloudlb.LB_CHOICES); None: the scenario's own
    #: (`alibaba-slb` -> alibaba, `tencent-clb*` -> tencent), else AWS
    lb: str | None = None
    #: where the baseline's windows are kept between `gapwatch lab` calls (run.cached_baseline);
    #: None: computed by each call
    baseline_cache: Path | None = None

    @property
    def lb_name(self) -> str:
        from gapwatch.recorder.lab.cloudlb import lb_of_scenario

        return self.lb or lb_of_scenario(self.scenario)


def sim_overrides(settings: LabSettings) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "observe.kube_proxy_period_s": SCRIPT_PERIOD_S,
        "observe.lb_poll_period_s": SCRIPT_PERIOD_S,
    }
    if settings.duration_s is not None:
        overrides["duration_s"] = settings.duration_s
    return overrides


def simulate(settings: LabSettings) -> tuple[Scenario, SimResult]:
    from gapwatch.recorder.sim import load_scenario, run

    scenario = load_scenario(settings.scenario, sim_overrides(settings))
    return scenario, run(scenario, seed=settings.seed)


def script_of(result: SimResult, start: str) -> list[tuple[float, Observation]]:
    """(simulated seconds since `start`, observation) for every change the fakes must make, at
    the moment it happened in the simulated world (`change_at`)."""
    origin = parse_time(start)
    steps = [
        ((change_at(o) - origin).total_seconds(), o)
        for o in result.observations
        if o.source in SERVED_SOURCES and not (o.source == "lb-poller" and o.op == "OBSERVED")
    ]
    steps.sort(key=lambda s: s[0])
    return steps


def change_at(obs: Observation) -> datetime:
    """When the fakes must make the change `obs` saw. The simulator's prober (sim/observe.py)
    stamps a look when it *ends*, and one whose NodePort probe times out ends the probe's timeout
    (1 s, simulated) after it began, though it saw the world as it was when it began: on the
    observer's grid, one period (SCRIPT_PERIOD_S) after the look before it
    (`previous_observed_at`). Scripting such a change at its stamp closed a node's kube-proxy a
    second after the true window began, and the lab's recorders then bounded the window up to
    that second late (seen in CI: the truth 1.01-1.04 s outside the bounds, 1 run in 5).
    Watch events and the poller's looks are stamped when they happen."""
    if obs.source == "kube-proxy-probe" and obs.previous_observed_at is not None:
        return min(obs.observed_at, obs.previous_observed_at + timedelta(seconds=SCRIPT_PERIOD_S))
    return obs.observed_at


@dataclass
class Lab:
    """A running lab (see `open_lab`): the world, the store, the recorders, the clock."""

    settings: LabSettings
    scenario: Scenario
    result: SimResult
    world: LabWorld
    db: str
    workdir: Path
    cluster: str
    t0: float = 0.0
    pg_root: Path | None = None
    recorders: list[RecorderProcess] = field(default_factory=list)
    config_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: fault actions still to come (threading.Timer), joined before the recorders stop
    pending: list[Any] = field(default_factory=list)
    #: how late the driver applied each step (wall seconds, 0 when on time; a loaded machine)
    lateness: list[float] = field(default_factory=list)
    #: (simulated second, seconds): the first recorder's host clock jumps then (a fault)
    clock_jump: tuple[float, float] | None = None

    @property
    def late_s(self) -> float:
        """The driver's largest lateness applying a step (wall seconds)."""
        return max(self.lateness, default=0.0)

    def lateness_note(self) -> str:
        """The driver's lateness over the run: how faithfully the world kept the timeline."""
        late = sorted(self.lateness)
        if not late:
            return "driver: no steps applied"
        p50, p99 = late[len(late) // 2], late[min(len(late) - 1, int(len(late) * 0.99))]
        over = sum(1 for x in late if x > 0.1)
        return (
            f"driver lateness (wall): p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {late[-1] * 1000:.0f} ms; {over} of {len(late)} steps over 100 ms"
        )

    @property
    def sim_interval_s(self) -> float:
        return self.settings.interval_s * self.settings.speed

    def sim_now(self) -> float:
        return (time.time() - self.t0) * self.settings.speed

    def sim_clock(self) -> datetime:
        """The simulation's time now (the fake apiserver stamps its writes with it)."""
        return parse_time(self.scenario.start) + timedelta(seconds=self.sim_now())

    def wall_at(self, sim_s: float) -> float:
        return self.t0 + sim_s / self.settings.speed

    def recorder_config(self, **k8s_extra: Any) -> dict[str, Any]:
        s = self.settings
        # the poller's backoff at the lab's scale (max_backoff_s, wall seconds)
        lb_key, lb_section = self.world.lb_section(
            self.world.service, interval_s=s.interval_s, heartbeat_s=60.0, max_backoff_s=2.0
        )
        return {
            "cluster": self.cluster,
            "db": self.db,
            "listen": "127.0.0.1:0",
            "shutdown_timeout_s": 20.0,
            "spool": {
                "flush_interval_s": 0.05,
                **({"max_bytes": s.spool_bytes} if s.spool_bytes is not None else {}),
            },
            "sources": {
                "k8s": {
                    "api_server": self.world.api.url,
                    "scope": "all",
                    "watch": {
                        "read_timeout_s": 3.0,
                        "server_timeout_s": [20, 40],
                        "connect_timeout_s": 2.0,
                        "list_timeout_s": 10.0,
                        "backoff": {"initial_s": 0.05, "max_s": 0.5},
                    },
                    **k8s_extra,
                },
                "kube-proxy": {
                    "interval_s": s.interval_s,
                    # a stalled machine must not pass for a hanging kube-proxy (wall seconds)
                    "timeout_s": PROBE_TIMEOUT_WALL_S,
                    # compared on the lab clock: simulated seconds, as the simulator's heartbeat_s
                    "heartbeat_s": 60.0,
                    "healthz_port": self.world.proxies.healthz_port,
                },
                lb_key: lb_section,
            },
        }

    @property
    def first_instant_path(self) -> Path:
        """Where the lab writes t0 for the recorders' clocks (clock.py: a deferred WALL)."""
        return self.workdir / "first-instant"

    def new_recorder(self, name: str = "recorder") -> RecorderProcess:
        """A recorder (not started) whose clock reads the simulation's time from t0 on, t0 being
        read from `first_instant_path`: the first ones start before the lab has named it."""
        assert self.config_path is not None
        jump = None
        if self.clock_jump is not None and not self.recorders:
            jump = (self.clock_jump[0] / self.settings.speed, self.clock_jump[1])
        start, speed = parse_time(self.scenario.start), self.settings.speed
        spec = deferred_clock_spec(start, self.first_instant_path, speed, jump)
        proc = RecorderProcess(
            self.config_path,
            self.workdir / f"{name}-{len(self.recorders)}.log",
            recorder_env(spec, self.world.lb_env()),
        )
        self.recorders.append(proc)
        return proc

    def supervise(self, done: Any) -> None:
        """Until `done` is set: restart a recorder that exited on its own 1 s later, as the
        Deployment's restartPolicy Always does (noted: it is a finding, not a fault)."""
        while not done.wait(0.2):
            for proc in list(self.recorders):
                if proc.crashed():
                    proc.ended_by_lab = True  # handled: restart it once
                    code = proc.proc.returncode if proc.proc else "?"
                    self.notes.append(
                        f"recorder pid {proc.pid} exited {code} at {self.sim_now():.1f} s "
                        f"({proc.last_error()}); restarted 1 s later"
                    )
                    time.sleep(1.0)
                    self.new_recorder("restarted").start()

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path = self.workdir / "record.yaml"
        # its `db` may hold the --db URL's password: readable by this user only (the work
        # directory is 0755 for the postgres user's sake)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(yaml.safe_dump(config, sort_keys=False))

    def drive(
        self,
        steps: list[tuple[float, Observation]],
        events: list[tuple[float, Callable[[], None]]] = (),  # type: ignore[assignment]
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Apply every step at its wall time, and run each fault event at its own."""
        timeline: list[tuple[float, int, Any]] = [(at, 0, obs) for at, obs in steps]
        timeline += [(at, 1, fn) for at, fn in events]
        timeline.sort(key=lambda t: (t[0], t[1]))
        shown = -1
        for at, what, item in timeline:
            delay = self.wall_at(at) - time.time()
            if delay > 0:
                time.sleep(delay)
            if what == 0:
                self.lateness.append(max(0.0, -delay))
                self.world.apply(item, at)
            else:
                item()
            minute = int(at // 60)
            if progress is not None and minute != shown:
                shown = minute
                progress(f"lab: simulated {at:6.1f} s of {self.scenario.duration_s:.0f} s")

    def caught_up(self) -> bool:
        """Every watch stream's committed checkpoint reached the fake apiserver's head."""
        from gapwatch.recorder.errors import GapwatchError
        from gapwatch.recorder.sources.k8s.storeio import load_resume_points
        from gapwatch.recorder.store import make_engine

        engine = make_engine(self.db)
        try:
            points = load_resume_points(engine, cluster=self.cluster)
        except GapwatchError:
            return False  # the store is down (a fault): not yet
        finally:
            engine.dispose()
        head = str(self.world.api.rv)
        return bool(points) and all(v == head for v in points.values())


@contextmanager
def open_lab(
    settings: LabSettings, store: LabStore, progress: Callable[[str], None]
) -> Iterator[Lab]:
    """Simulate, make a database, start the fakes, write the recorder's configuration; yields
    the Lab (no recorder started yet: the caller starts them, drives, and stops them)."""
    scenario, result = simulate(settings)
    workdir = Path(tempfile.mkdtemp(prefix="gapwatch-lab-", dir="/tmp"))
    workdir.chmod(0o755)
    # the fake nodes' loopback addresses only: unseeded, so two labs of the same seed on one
    # machine (a table and a replay of one of its runs) do not bind the same address and port
    rng = random.Random()
    db = store.database()
    gapwatch("db", "upgrade", db=db)
    with LabWorld(scenario, rng, workdir, settings.lb_name) as world:
        cluster = f"lab-{scenario.name}-s{settings.seed}-{uuid.uuid4().hex[:6]}"
        lab = Lab(settings, scenario, result, world, db, workdir, cluster, pg_root=store.root)
        lab.write_config(lab.recorder_config())
        try:
            yield lab
        finally:
            for proc in lab.recorders:
                proc.kill()
            if not settings.keep:
                shutil.rmtree(workdir, True)


def record_run(
    lab: Lab,
    events: list[tuple[float, Callable[[], None]]],
    progress: Callable[[str], None],
) -> None:
    """Start one recorder, drive the whole script (and `events`), wait until everything the fakes
    served is committed, and stop every recorder cleanly."""
    import threading

    start_recorders(lab, progress)
    done = threading.Event()
    watchdog = threading.Thread(target=lab.supervise, args=(done,), daemon=True)
    watchdog.start()
    try:
        lab.drive(script_of(lab.result, lab.scenario.start), events, progress)
        settle(lab, done)
    finally:
        done.set()
        watchdog.join(10)


def start_recorders(lab: Lab, progress: Callable[[str], None]) -> None:
    """Start the replicas, wait until every one has started (its clock's first reading waits
    for the first instant: clock.py), then name the simulation's first instant `lead_s` ahead
    and wait until they are ready (listed, first looks). On a loaded machine a recorder takes
    many seconds to start (about 16 s at load 10), and how many cannot be known in advance: the
    first instant moves, the processes are kept. Nothing exists before it, so nothing is doubled;
    a sampler's first look may still come after states that ended (the ledger counts those
    unobservable: ledger.py, `first_look_s`). LabError when a replica exits first, or has not
    started within START_TIMEOUT_S."""
    began = time.time()
    fresh = [lab.new_recorder() for _ in range(lab.settings.replicas)]
    for proc in fresh:
        proc.start()
    while not all(p.waiting_for_clock() for p in fresh):
        for proc in fresh:
            if not proc.alive():
                code = proc.proc.returncode if proc.proc else "?"
                raise LabError(
                    f"recorder pid {proc.pid} exited {code} before it started: {proc.last_error()}"
                )
        if time.time() - began > START_TIMEOUT_S:
            late = [str(p.pid) for p in fresh if not p.waiting_for_clock()]
            raise LabError(
                f"the recorders did not start within {START_TIMEOUT_S:.0f} s (pid "
                f"{', '.join(late)} still importing or building its sources: a loaded machine?)"
            )
        time.sleep(0.05)
    lab.t0 = time.time() + lab.settings.lead_s
    lab.world.api.clock = lab.sim_clock
    write_wall(lab.first_instant_path, lab.t0)
    lab.notes.append(
        f"recorders started in {lab.t0 - lab.settings.lead_s - began:.1f} s (wall); the first "
        f"instant {lab.settings.lead_s:.1f} s after"
    )
    progress(lab.notes[-1])
    while time.time() < lab.t0 - 0.2 and not all(p.ready() for p in fresh):
        time.sleep(0.05)
    for proc in fresh:  # t0 cannot move now: the clocks have read it (settle waits for them)
        if not proc.ready():
            lab.notes.append(
                f"recorder pid {proc.pid} was not ready (listed, first looks) by the first "
                f"instant: a lead of {lab.settings.lead_s:.1f} s is short on this machine"
            )


def settle(lab: Lab, supervising: Any) -> None:
    """After the script: wait for the watch to catch up, give the samplers two more looks, stop
    (`supervising`: the watchdog's flag, set before the final SIGTERMs)."""
    for timer in lab.pending:
        timer.join(120)
    live = [p for p in lab.recorders if p.alive()]
    if not live:
        raise LabError("no recorder is running at the end of the script")
    for proc in live:  # one restarted late must not be stopped before it can stop cleanly
        wait_for(lambda p=proc: p.started() or not p.alive(), f"recorder pid {proc.pid}", 120)
    wait_for(lab.caught_up, "the recorder to commit the apiserver's last change", 120)
    # three more looks, each of which may have to time out first (a probe fault ending late)
    time.sleep(3 * (lab.settings.interval_s + PROBE_TIMEOUT_WALL_S) + 0.5)
    supervising.set()
    for proc in lab.recorders:
        if proc.crashed() or not proc.alive():
            continue  # noted by the watchdog, or SIGKILLed by a fault
        code = proc.stop()
        if code != 0:  # a finding to report, not a reason to lose the run
            lab.notes.append(
                f"recorder pid {proc.pid} exited {code} on SIGTERM ({proc.last_error()})"
            )


def replaced(settings: LabSettings, **changes: Any) -> LabSettings:
    return dataclasses.replace(settings, **changes)
