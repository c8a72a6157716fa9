"""The faults the lab injects, each with the claim "0 lost, 0 duplicated transitions, windows
still match" (run.py checks it). A fault picks its moments from its own seed (printed), schedules
them on the lab's timeline (`prepare` returns (simulated second, action) pairs), and may leave
notes (`finish`): what it did, what the recorder's log said (faultbase.py; the faults that kill
recorders are in killfaults.py).

Times: `pick` draws moments inside the simulation's busy stretch (the rollout and its settling:
where transitions are) or anywhere, in simulated seconds; durations are wall seconds (what the
machine lives through), `short` (CI) or long.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.lab.cloudfaults import CLOUD_FAULTS
from gapwatch.recorder.lab.faultbase import Event, Fault, later
from gapwatch.recorder.lab.killfaults import SigKill, SigKillAll, Takeover

if TYPE_CHECKING:
    from gapwatch.recorder.lab.session import Lab

__all__ = ["FAULTS", "Event", "Fault", "PgStop", "describe", "make_fault"]


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
            later(lab, wall, lambda: lab.world.api.silence(False))

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
        self.down_s = 0.0

        def restart() -> None:
            from gapwatch.recorder.sources.k8s.storeio import load_resume_points
            from gapwatch.recorder.store import make_engine

            engine = make_engine(lab.db)
            try:
                self.points = load_resume_points(engine, cluster=lab.cluster)
            finally:
                engine.dispose()
            api.down(True)
            self.down_s = lab.sim_now()
            self.note(lab, "apiserver down")

            def back() -> None:
                api.compact()
                self.back_wall = time.time()
                api.down(False)
                self.note(lab, f"apiserver back, history compacted to rv {api.rv}")

            later(lab, 3.0 if self.long else 1.5, back)

        return [(at, restart) for at in self.pick(lab, 1)]

    def finish(self, lab: Lab) -> list[str]:
        from gapwatch.recorder.lab.fakes.fakeapi import KINDS

        relists: dict[str, int] = {}
        last_wall = 0.0
        until = lab.wall_at(self.until_s) if self.until_s is not None else float("inf")
        for plural, rv, wall in lab.world.api.lists_served:
            kind = KINDS[plural][0]
            if self.back_wall <= wall <= until and kind not in relists:
                relists[kind] = rv  # the first relist after the restart
                last_wall = max(last_wall, wall)
        for kind, rv in relists.items():
            start = int(self.points.get(kind, "0") or 0)
            self.gaps.setdefault(kind, []).append((start, rv))
        if relists:
            # from the outage to the last stream's relist (compare.py: relisted)
            self.unknown.append((self.down_s, (last_wall - lab.t0) * lab.settings.speed))
        self.notes.append(f"{len(relists)} streams relisted after the restart")
        return super().finish(lab)


class ElbThrottle(Fault):
    """The LB API throttles the next requests (ELBv2 `Throttling`, Alibaba `Throttling.User`,
    Tencent `RequestLimitExceeded`, Huawei HTTP 429): the poller backs off, then catches up."""

    def schedule(self, lab: Lab) -> list[Event]:
        def throttle() -> None:
            lab.world.throttle_lb(4)
            self.note(lab, f"the {lab.world.lb} LB API throttles the next 4 calls")

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

            later(lab, wall, end)

        return [(at, start) for at in self.pick(lab, 2)]


class ProbeRefused(ProbeTimeout):
    """One node's kube-proxy health port refuses connections (kube-proxy restarting) for a
    stretch (1.5 s wall, 3 s long), twice, on a random node: stored as `refused`."""

    mode = "refuse"


class PgStop(Fault):
    """PostgreSQL stopped mid-stream (60 s long, 4 s short): the spool fills, says so, drains.
    The recorders run with a small spool (`PG_STOP_SPOOL_BYTES`) so that the outage fills it;
    then the sources wait (the watch is read no further and resumes from its resourceVersion,
    the samplers look later) and nothing is lost."""

    #: start the server again with its own defaults (a soak's durable server), not FAST_SETTINGS
    durable = False

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
            start(root, port, durable=self.durable)
            self.note(lab, "PostgreSQL started")

        def pg_down() -> None:
            stop(root)
            self.note(lab, "PostgreSQL stopped")
            later(lab, 60.0 if self.long else 4.0, pg_up)

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


#: The namespace of the poison fault's objects (run.UNRECORDABLE_NAMESPACES)
UNRECORDABLE_NAMESPACE = "lab-poison"

#: The spool bound the pg-stop fault runs with: 256 KiB of memory, ~60 of the lab's
#: EndpointSlice-sized items; the lab's three nodes fill it within the long outage (60 s wall =
#: 600 s simulated).
PG_STOP_SPOOL_BYTES = 256 * 1024


class Poison(Fault):
    """Objects the recorder cannot store as they are (a Pod whose name is 300 KB, an Event with a
    NUL byte in its message): it must set them aside and lose nothing else."""

    def schedule(self, lab: Lab) -> list[Event]:
        api = lab.world.api
        ns = UNRECORDABLE_NAMESPACE

        def poison() -> None:  # named by the seed: a soak makes them more than once
            api.create(
                "Pod",
                {"metadata": {"name": f"poison-{self.seed}-" + "x" * 300_000, "namespace": ns}},
            )
            api.create(
                "Event",
                {
                    "metadata": {"name": f"poison-nul-{self.seed}", "namespace": ns},
                    "message": "bad\u0000byte",
                    "involvedObject": {"kind": "Pod", "name": "x", "namespace": ns},
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
    **CLOUD_FAULTS,
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
