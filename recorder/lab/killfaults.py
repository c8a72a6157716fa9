"""The faults that kill recorders (catalogue: faults.py): one replica at a time (`sigkill`),
both at once (`sigkill-all`: what nobody could see is unobservable, and the log must show the
gap), and a takeover by a new recorder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gapwatch.recorder.lab.faultbase import Event, Fault, later

if TYPE_CHECKING:
    from gapwatch.recorder.lab.session import Lab


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
                later(lab, 0.2, lambda: kill(waited + 0.2))
                return
            victim = self.rng.choice(live)
            victim.kill()
            late = f" ({waited:.1f} s wall late: waited for the other replica)" if waited else ""
            self.note(lab, f"SIGKILL pid {victim.pid}{late}")
            later(lab, self.restart_wall_s, lambda: lab.new_recorder().start())

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
            later(lab, apart, lambda: second(live[1:]))
            later(lab, self.restart_wall_s, restart)

        def second(rest: list[Any]) -> None:
            for proc in rest:
                proc.kill()
                self.note(lab, f"SIGKILL pid {proc.pid} ({apart:.2f} s wall after the first)")
            self.blind_from = lab.sim_now()
            later(lab, self.restart_wall_s, restart)

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

            later(lab, TAKEOVER_OVERLAP_WALL_S, kill_old)

        return [(first_at, thin_out), (second_at, take_over)]


#: A new recorder needs a few seconds to start (Python, imports, a first list): the old one is
#: killed once the new one has had this long (wall seconds), as a rolling update would.
TAKEOVER_OVERLAP_WALL_S = 8.0
