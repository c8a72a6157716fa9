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
