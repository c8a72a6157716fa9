"""The faults the lab injects, each with the claim "0 lost, 0 duplicated transitions, windows
still match" (run.py checks it). A fault picks its moments from its own seed (printed), schedules
them on the lab's timeline (`prepare` returns (simulated second, action) pairs), and may leave
notes (`finish`): what it did, what the recorder's log said.

Times: `pick` draws moments inside the simulation's busy stretch (the rollout and its settling:
where transitions are) or anywhere, in simulated seconds; durations are wall seconds (what the
machine lives through), `short` (CI) or long.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    #: the recorders' spool bound, bytes (None: the lab's setting)
    spool_bytes: int | None = None
    #: what the fault found wrong beyond the ledger (the run does not match)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
        """`count` moments (simulated s), sorted, inside the scenario's first events' stretch."""
        starts = [e.at_s for e in lab.scenario.events] or [lab.scenario.duration_s / 3]
        lo = max(1.0, min(starts) - 10)
        hi = min(lab.scenario.duration_s - 5, max(starts) + 60)
        return sorted(self.rng.uniform(lo, hi) for _ in range(count))

    def note(self, lab: Lab, text: str) -> None:
        self.notes.append(f"{text} at {lab.sim_now():.1f} s")


class SigKill(Fault):
    """SIGKILL one replica at a time, at random moments; it is started again `restart_wall_s`
    later (as Kubernetes restarts a container) while the other replica keeps recording. A kill
    waits until every live replica is ready (its log says `ready`): two replicas exist so that
    one can die, not both (that is `sigkill-all`)."""

    kills = 2
    restart_wall_s = 0.5

    def schedule(self, lab: Lab) -> list[Event]:
        def kill(waited: float = 0.0) -> None:
            live = [p for p in lab.recorders if p.alive()]
            if len(live) < 2 or not all(p.ready() for p in live):
                if waited >= KILL_WAIT_WALL_S:
                    self.note(lab, f"no kill: a replica was not ready for {waited:.0f} s")
                    return
                _later(lab, 0.2, lambda: kill(waited + 0.2))
                return
            victim = self.rng.choice(live)
            victim.kill()
            late = f" ({waited:.1f} s wall late: waited for the other replica)" if waited else ""
            self.note(lab, f"SIGKILL pid {victim.pid}{late}")
            _later(lab, self.restart_wall_s, lambda: lab.new_recorder().start())

        return [(at, kill) for at in self.pick(lab, self.kills)]


#: A one-replica kill waits at most this long (wall s) for the other replica to be ready.
KILL_WAIT_WALL_S = 60.0


class SigKillAll(Fault):
    """Both replicas SIGKILLed within the same second (a node lost with both on it, an
    eviction); each is started again `restart_wall_s` later. The claim differs: what happened
    while nobody looked is `unobservable`, not lost (ledger.py: the blind stretch runs from the
    second kill to the first restarted replica's `ready`); the log shows the gap (every probed
    target's first row after it reaches back to before it: a `resume` or a `change`); nothing is
    stored twice."""

    restart_wall_s = 0.5

    def schedule(self, lab: Lab) -> list[Event]:
        (at,) = self.pick(lab, 1)
        apart = self.rng.uniform(0.05, 0.95)
        self.blind_from: float | None = None
        self.restarted: list[Any] = []

        def first() -> None:
            live = [p for p in lab.recorders if p.alive()]
            if not live:
                return
            live[0].kill()
            self.note(lab, f"SIGKILL pid {live[0].pid}")
            _later(lab, apart, lambda: second(live[1:]))
            _later(lab, self.restart_wall_s, restart)

        def second(rest: list[Any]) -> None:
            for proc in rest:
                proc.kill()
                self.note(lab, f"SIGKILL pid {proc.pid} ({apart:.2f} s wall after the first)")
            self.blind_from = lab.sim_now()
            _later(lab, self.restart_wall_s, restart)

        def restart() -> None:
            proc = lab.new_recorder("restarted")
            self.restarted.append(proc)
            proc.start()

        return [(at, first)]

    def finish(self, lab: Lab) -> list[str]:
        readies = [w for w in (p.ready_at() for p in self.restarted) if w is not None]
        if self.blind_from is not None and readies:
            until = (min(readies) - lab.t0) * lab.settings.speed
            self.blind.append((self.blind_from, until))
            self.notes.append(
                f"nobody looked from {self.blind_from:.1f} s to {until:.1f} s (simulated)"
            )
            self.problems += _gap_not_shown(lab, self.blind_from)
        return super().finish(lab)


def _gap_not_shown(lab: Lab, blind_from: float) -> list[str]:
    """The probed targets whose first stored look after `blind_from` (simulated s) does not reach
    back to before it (previous_observed_at): the log would claim a look nobody made."""
    from datetime import timedelta

    from sqlalchemy import text

    from gapwatch.recorder.store import make_engine
    from gapwatch.recorder.timefmt import parse_time

    since = parse_time(lab.scenario.start) + timedelta(seconds=blind_from)
    engine = make_engine(lab.db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT node, name, observed_at, previous_observed_at FROM events "
                    "WHERE cluster = :c AND kind = 'ProxyHealth' AND observed_at > :t "
                    "ORDER BY observed_at, id"
                ),
                {"c": lab.cluster, "t": since},
            ).all()
    finally:
        engine.dispose()
    first: dict[tuple[str, str], Any] = {}
    for node, name, _at, previous in rows:
        first.setdefault((node, name), previous)
    return [
        f"the log does not show the gap for {node}/{name}: its first look after the kills "
        f"reaches back to {previous}"
        for (node, name), previous in sorted(first.items())
        if previous is None or previous > since
    ] or ([] if first else ["no probe row after the kills"])


class WatchDrop(Fault):
    """Abort every open watch stream mid-body, three times."""

    def schedule(self, lab: Lab) -> list[Event]:
        def drop() -> None:
            lab.world.api.drop_watches()
            self.note(lab, "watch streams dropped")

        return [(at, drop) for at in self.pick(lab, 3)]


class WatchStall(Fault):
    """Streams stay open and send nothing (half-open) for longer than the read timeout."""

    def schedule(self, lab: Lab) -> list[Event]:
        def stall() -> None:
            lab.world.api.silence(True)
            self.note(lab, "watch streams silent")
            wall = 8.0 if self.long else 4.0
            _later(lab, wall, lambda: lab.world.api.silence(False))

        return [(at, stall) for at in self.pick(lab, 1)]


class Gone(Fault):
    """End every open watch stream with ERROR 410 Gone, twice."""

    def schedule(self, lab: Lab) -> list[Event]:
        def gone() -> None:
            lab.world.api.send_gone()
            self.note(lab, "410 Gone sent")

        return [(at, gone) for at in self.pick(lab, 2)]


class ApiRestart(Fault):
    """The apiserver the recorder talks to restarts (503, streams dropped) while the control
    plane's other replicas keep accepting writes; it comes back with its history compacted, so
    every stream behind it gets 410 and relists: changes in between are seen as the relist's
    diff (the ledger expects exactly that, per stream, from the recorders' `synced` log lines)."""

    def schedule(self, lab: Lab) -> list[Event]:
        api = lab.world.api
        self.points: dict[str, str] = {}
        self.back_wall = 0.0

        def restart() -> None:
            from gapwatch.recorder.sources.k8s.storeio import load_resume_points
            from gapwatch.recorder.store import make_engine

            engine = make_engine(lab.db)
            try:
                self.points = load_resume_points(engine, cluster=lab.cluster)
            finally:
                engine.dispose()
            api.down(True)
            self.note(lab, "apiserver down")

            def back() -> None:
                api.compact()
                self.back_wall = time.time()
                api.down(False)
                self.note(lab, f"apiserver back, history compacted to rv {api.rv}")

            _later(lab, 3.0 if self.long else 1.5, back)

        return [(at, restart) for at in self.pick(lab, 1)]

    def finish(self, lab: Lab) -> list[str]:
        from gapwatch.recorder.lab.fakes.fakeapi import KINDS

        relists: dict[str, int] = {}
        for plural, rv, wall in lab.world.api.lists_served:
            kind = KINDS[plural][0]
            if wall >= self.back_wall and kind not in relists:
                relists[kind] = rv  # the first relist after the restart
        for kind, rv in relists.items():
            start = int(self.points.get(kind, "0") or 0)
            self.gaps.setdefault(kind, []).append((start, rv))
        self.notes.append(f"{len(relists)} streams relisted after the restart")
        return super().finish(lab)


class ElbThrottle(Fault):
    """ELBv2 answers `Throttling` to the next requests (the poller backs off, then catches up)."""

    def schedule(self, lab: Lab) -> list[Event]:
        def throttle() -> None:
            assert lab.world.elb is not None
            lab.world.elb.throttle(4)
            self.note(lab, "ELBv2 throttles the next 4 calls")

        return [(at, throttle) for at in self.pick(lab, 2)]


class ProbeTimeout(Fault):
    """One node's kube-proxy health port stops answering (the connection hangs) for a stretch
    (1.5 s wall, 3 s long), twice, on a random node: the prober must store `timeout` looks (an
    unknown, not "no local endpoints"), and the change back."""

    mode = "hang"

    def schedule(self, lab: Lab) -> list[Event]:
        world = lab.world
        wall = 3.0 if self.long else 1.5

        def start() -> None:
            name = self.rng.choice(world.names)
            world.force_proxy(name, self.mode, lab.sim_now())
            self.note(lab, f"{name}'s health port set to {self.mode}")

            def end() -> None:
                world.force_proxy(name, None, lab.sim_now())
                self.note(lab, f"{name}'s health port answers again")

            _later(lab, wall, end)

        return [(at, start) for at in self.pick(lab, 2)]


class ProbeRefused(ProbeTimeout):
    """One node's kube-proxy health port refuses connections (kube-proxy restarting) for a
    stretch (1.5 s wall, 3 s long), twice, on a random node: stored as `refused`."""

    mode = "refuse"


class Takeover(Fault):
    """Every recorder but one is SIGKILLed; later a new one starts and the last old one is
    SIGKILLed: the newcomer takes over from the shared checkpoints alone."""

    def schedule(self, lab: Lab) -> list[Event]:
        first_at, second_at = self.pick(lab, 2)

        def thin_out() -> None:
            for proc in [p for p in lab.recorders if p.alive()][1:]:
                proc.kill()
                self.note(lab, f"recorder pid {proc.pid} SIGKILLed")

        def take_over() -> None:
            old = [p for p in lab.recorders if p.alive()]
            new = lab.new_recorder("takeover")
            new.start()
            self.note(lab, f"recorder pid {new.pid} started")

            def kill_old() -> None:
                for proc in old:
                    proc.kill()
                    self.note(lab, f"old recorder pid {proc.pid} SIGKILLed")

            _later(lab, TAKEOVER_OVERLAP_WALL_S, kill_old)

        return [(first_at, thin_out), (second_at, take_over)]


#: A new recorder needs a few seconds to start (Python, imports, a first list): the old one is
#: killed once the new one has had this long (wall seconds), as a rolling update would.
TAKEOVER_OVERLAP_WALL_S = 8.0


class PgStop(Fault):
    """PostgreSQL stopped mid-stream (60 s long, 4 s short): the spool fills, says so, drains.
    The recorders run with a small spool (`PG_STOP_SPOOL_BYTES`) so that the outage fills it;
    then the sources wait (the watch is read no further and resumes from its resourceVersion,
    the samplers look later) and nothing is lost."""

    def __post_init__(self) -> None:
        self.spool_bytes = PG_STOP_SPOOL_BYTES

    def schedule(self, lab: Lab) -> list[Event]:
        if lab.pg_root is None:
            self.notes.append("skipped: needs the lab's own PostgreSQL (no --db)")
            return []
        from gapwatch.recorder.lab.pgserver import start, stop

        root = lab.pg_root
        port = int(lab.db.rsplit(":", 1)[1].split("/", 1)[0])

        def pg_up() -> None:
            start(root, port)
            self.note(lab, "PostgreSQL started")

        def pg_down() -> None:
            stop(root)
            self.note(lab, "PostgreSQL stopped")
            _later(lab, 60.0 if self.long else 4.0, pg_up)

        return [(at, pg_down) for at in self.pick(lab, 1)]

    def finish(self, lab: Lab) -> list[str]:
        said = [
            e.get("event")
            for proc in lab.recorders
            for e in proc.log_events()
            if "spool" in str(e.get("event")) or "store write failed" in str(e.get("event"))
        ]
        full = sum(1 for e in said if str(e).startswith("spool full"))
        drained = sum(1 for e in said if str(e).startswith("spool no longer full"))
        retries = sum(1 for e in said if str(e).startswith("store write failed"))
        self.notes.append(
            f"recorder log: {retries} failed writes retried, spool full {full}x, drained {drained}x"
        )
        return super().finish(lab)


#: The spool bound the pg-stop fault runs with: 256 KiB, ~250 of the lab's EndpointSlice-sized
#: items; the lab's three nodes fill it within the long outage (60 s wall = 600 s simulated).
PG_STOP_SPOOL_BYTES = 256 * 1024


class Poison(Fault):
    """Objects the recorder cannot store as they are (a Pod whose name is 300 KB, an Event with a
    NUL byte in its message): it must set them aside and lose nothing else."""

    def schedule(self, lab: Lab) -> list[Event]:
        api = lab.world.api

        def poison() -> None:
            api.create(
                "Pod",
                {"metadata": {"name": "poison-" + "x" * 300_000, "namespace": "lab-poison"}},
            )
            api.create(
                "Event",
                {
                    "metadata": {"name": "poison-nul", "namespace": "lab-poison"},
                    "message": "bad\u0000byte",
                    "involvedObject": {"kind": "Pod", "name": "x", "namespace": "lab-poison"},
                },
            )
            self.note(lab, "poison objects created")

        return [(at, poison) for at in self.pick(lab, 1)]

    def finish(self, lab: Lab) -> list[str]:
        from sqlalchemy import text

        from gapwatch.recorder.store import make_engine

        engine = make_engine(lab.db)
        try:
            with engine.connect() as conn:
                stored = conn.execute(
                    text("SELECT count(*) FROM events WHERE cluster = :c AND namespace = :n"),
                    {"c": lab.cluster, "n": "lab-poison"},
                ).scalar_one()
                quarantined = conn.execute(
                    text("SELECT count(*) FROM quarantine WHERE cluster = :c"), {"c": lab.cluster}
                ).scalar_one()
        finally:
            engine.dispose()
        self.notes.append(
            f"2 poison objects made: {stored} event row(s) stored (escaped), {quarantined} "
            "quarantine row(s) (each replica quarantines on its own)"
        )
        return super().finish(lab)


class ClockJump(Fault):
    """The first recorder's host clock steps forward 30 s at a random moment (NTP, by hand),
    through the lab clock's jump (recorder/lab/clock.py); the other replica's clock is right."""

    def schedule(self, lab: Lab) -> list[Event]:
        (at,) = self.pick(lab, 1)
        lab.clock_jump = (at, 30.0)
        self.notes.append(f"the first recorder's clock jumps +30 s at {at:.1f} s")
        return []


def _later(lab: Lab, wall_s: float, action: Callable[[], None]) -> None:
    """Run `action` in `wall_s` without holding up the timeline (settle waits for it)."""
    import threading

    timer = threading.Timer(wall_s, action)
    timer.daemon = True
    timer.start()
    lab.pending.append(timer)


#: name -> (class, what the table calls it)
FAULTS: dict[str, type[Fault]] = {
    "sigkill": SigKill,
    "sigkill-all": SigKillAll,
    "watch-drop": WatchDrop,
    "watch-stall": WatchStall,
    "gone-410": Gone,
    "apiserver-restart": ApiRestart,
    "pg-stop": PgStop,
    "elb-throttle": ElbThrottle,
    "takeover": Takeover,
    "poison": Poison,
    "clock-jump": ClockJump,
    "probe-timeout": ProbeTimeout,
    "probe-refused": ProbeRefused,
}


def make_fault(name: str, seed: int, *, long: bool = False) -> Fault:
    from gapwatch.recorder.errors import ConfigError

    try:
        cls = FAULTS[name]
    except KeyError:
        raise ConfigError(
            f"--faults: unknown fault {name!r} (known: {', '.join(FAULTS)})"
        ) from None
    return cls(name=name, seed=seed, long=long)


def describe() -> dict[str, Any]:
    return {name: (cls.__doc__ or "").split("\n")[0] for name, cls in FAULTS.items()}
