"""A restarted (or second) recorder's LB poller resumes from the store: no target is reported as
ADDED again, a change while nobody looked is a MODIFIED bounded by the stored observation, and a
target last stored as DELETED is new again (recorder/sources/lb/laststate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gapwatch.recorder.sources.lb.laststate import seed_tracker
from gapwatch.recorder.sources.lb.shape import GroupLook, Target
from gapwatch.recorder.sources.lb.tracker import ServiceKey, Tracker
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SVC = ServiceKey("istio-system", "istio-ingressgateway")


def look(*targets: Target) -> GroupLook:
    return GroupLook(group="tg-1", targets=targets, health_check_port="31805")


def tgt(ident: str, state: str) -> Target:
    return Target(id=ident, port=32999, state=state)


def test_a_new_tracker_seeded_from_the_store_continues_where_the_last_one_stopped(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    before = Tracker(cluster="c")
    stored = before.observe(T0, look(tgt("i-a", "healthy"), tgt("i-b", "healthy")), service=SVC)
    stored += before.observe(T0 + timedelta(seconds=5), look(tgt("i-a", "healthy")), service=SVC)
    EventWriter(engine, derive=lambda _conn, _rows: None).write_all(stored)
    assert sorted(o.op for o in stored) == ["ADDED", "ADDED", "DELETED"]

    after = Tracker(cluster="c")
    later = T0 + timedelta(seconds=30)
    assert seed_tracker(after, engine, cluster="c", now=later, heartbeat_s=60) == 1
    same = after.observe(later, look(tgt("i-a", "healthy"), tgt("i-b", "healthy")), service=SVC)
    assert [(o.op, o.payload["Target"]["Id"]) for o in same] == [("ADDED", "i-b")]
    changed = after.observe(
        later + timedelta(seconds=5), look(tgt("i-a", "draining"), tgt("i-b", "healthy"))
    )
    assert [(o.op, o.previous_observed_at) for o in changed] == [("MODIFIED", later)]

    unseeded = Tracker(cluster="c")
    assert seed_tracker(unseeded, engine, cluster="other", now=later, heartbeat_s=60) == 0
    fresh = unseeded.observe(later, look(tgt("i-a", "healthy")), service=SVC)
    assert [o.op for o in fresh] == ["ADDED"]
    engine.dispose()


def test_a_replica_back_from_throttling_does_not_store_the_other_replicas_change_again(
    tmp_path: Path,
) -> None:
    """Two replicas poll one group; A is throttled while B sees i-a drain and i-b leave. A,
    re-seeded before its look becomes observations, reports neither again (the lab's
    elb-throttle row)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    write = EventWriter(engine, derive=lambda _conn, _rows: None).write_all
    a, b = Tracker(cluster="c"), Tracker(cluster="c")
    both = look(tgt("i-a", "healthy"), tgt("i-b", "healthy"))
    write(a.observe(T0, both, service=SVC))
    write(b.observe(T0 + timedelta(seconds=1), both, service=SVC))
    # A is throttled from here on; B looks on and stores the changes
    changed = b.observe(T0 + timedelta(seconds=6), look(tgt("i-a", "draining")), service=SVC)
    assert sorted(o.op for o in changed) == ["DELETED", "MODIFIED"]
    write(changed)

    back = T0 + timedelta(seconds=20)
    seed_tracker(a, engine, cluster="c", now=back, heartbeat_s=60)
    assert a.observe(back, look(tgt("i-a", "draining")), service=SVC) == []
    # a later change A sees first is still A's own transition, bounded by B's look
    later = a.observe(back + timedelta(seconds=5), look(tgt("i-a", "unused")), service=SVC)
    assert [(o.op, o.previous_observed_at) for o in later] == [("MODIFIED", back)]

    # without the re-seed, A would store both changes a second time
    unseeded = Tracker(cluster="c")
    unseeded.observe(T0, both, service=SVC)
    again = unseeded.observe(back, look(tgt("i-a", "draining")), service=SVC)
    assert sorted(o.op for o in again) == ["DELETED", "MODIFIED"]
    engine.dispose()
