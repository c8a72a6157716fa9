"""A restarted LB poller compares each target with its STORED last state, however long nobody
looked (recorder/sources/lb/laststate.py: the pollers' checkpoints). Before, only the last three
heartbeats (180 s) were read, and the lab's `sigkill-all` blind stretches (137-336 simulated s)
brought every target back as ADDED. Real SQLite and PostgreSQL; the poller runs with a scripted
adapter (the ELBv2 wire is tests/lb/test_elbv2.py's) and writes through the EventWriter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.sources.lb.laststate import checkpoint_of, seed_tracker
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.poller import PollerSource, PollSettings
from gapwatch.recorder.sources.lb.shape import GroupLook, Target
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, Tracker
from gapwatch.recorder.writer import EventWriter, load_checkpoints
from tests.lb.test_poller_resume import Script

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def group(*targets: tuple[str, str]) -> GroupLook:
    return GroupLook(
        group="tg-1",
        targets=tuple(Target(id=i, port=32999, state=s) for i, s in targets),
        health_check_port="31805",
        attributes={"deregistration_delay.timeout_seconds": "300"},
    )


def poller(engine: Engine, at: datetime, answers: list[GroupLook]) -> PollerSource:
    script = Script(list(answers))

    def adapter(_count: Callable[[str], None]) -> Script:
        return script

    def clock() -> datetime:
        return at

    def resume(tracker: Tracker, now: datetime) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        seed_tracker(tracker, engine, cluster="c", now=now, heartbeat_s=60, stored=stored)
        return stored

    return PollerSource(
        name="elbv2",
        cluster="c",
        adapter=adapter,
        clock=clock,
        metrics=PollerMetrics(CollectorRegistry(), "elbv2", clock),
        nodes=list,
        service_of=lambda _g: NO_SERVICE,
        settings=PollSettings(interval_s=0.01, heartbeat_s=60),
        resume=resume,
    )


def run(engine: Engine, at: datetime, answer: GroupLook) -> list[tuple[str, str, datetime | None]]:
    """One poller process: one look at `at`; returns (op, target or kind, previous) stored."""
    sink = WriterSink(EventWriter(engine, derive=lambda _c, _r: None))
    stored: list[tuple[str, str, datetime | None]] = []
    sink._on_write = lambda batch: stored.extend(  # what this process wrote
        (o.op, (o.payload.get("Target") or {}).get("Id", o.kind), o.previous_observed_at)
        for o in batch
    )
    asyncio.run(poller(engine, at, [answer]).look(sink))
    return stored


def test_a_poller_back_after_hours_continues_from_the_stored_state(engine: Engine) -> None:
    first = run(engine, T0, group(("i-a", "healthy"), ("i-b", "healthy"), ("i-c", "healthy")))
    assert sorted(op for op, _, _ in first) == ["ADDED", "ADDED", "ADDED", "ADDED"]
    keys = load_checkpoints(engine, "c", "lb-poller")
    assert sorted(keys) == [
        "attributes:tg-1",
        "target:tg-1|i-a:32999",
        "target:tg-1|i-b:32999",
        "target:tg-1|i-c:32999",
    ]

    # two hours later (nobody looked): i-a unchanged, i-b draining, i-c gone
    back = run(engine, T0 + 2 * HOUR, group(("i-a", "healthy"), ("i-b", "draining")))
    assert sorted(back, key=lambda r: r[1]) == [
        ("OBSERVED", "i-a", T0),  # a heartbeat (due): no new target
        ("MODIFIED", "i-b", T0),
        ("DELETED", "i-c", T0),
    ]  # and the group's attributes are not ADDED again

    # and the next restart compares with what that one stored
    again = run(engine, T0 + 5 * HOUR, group(("i-a", "healthy"), ("i-b", "draining")))
    assert sorted(again) == [("OBSERVED", "i-a", T0 + 2 * HOUR), ("OBSERVED", "i-b", T0 + 2 * HOUR)]


def test_an_older_checkpoint_committed_late_does_not_replace_a_newer_one(engine: Engine) -> None:
    """Two replicas' spools may commit out of order (a store outage): the newest state stays."""
    tracker = Tracker(cluster="c")
    newer = tracker.observe(T0 + HOUR, group(("i-a", "draining")))
    older = Tracker(cluster="c").observe(T0, group(("i-a", "healthy")))
    writer = EventWriter(engine, derive=lambda _c, _r: None)
    for batch in (newer, older):
        writer.write(batch, [cp for o in batch if (cp := checkpoint_of(o)) is not None])
    resumed = Tracker(cluster="c")
    seed_tracker(resumed, engine, cluster="c", now=T0 + 3 * HOUR, heartbeat_s=60)
    looked = resumed.observe(T0 + 3 * HOUR, group(("i-a", "draining")))
    assert [(o.kind, o.op) for o in looked] == [("TargetHealth", "OBSERVED")]  # a heartbeat
