"""Two LB poller replicas, and a first look the writer dropped that its replica has not learnt of
yet (session 26's CI: tests/lab/test_lab_start.py, `healthy again at 1.7 s`). B's first look sees
the target unhealthy; the target turns healthy; A's first look sees it healthy while its Node is
not yet in A's view; B's ADDED commits first, so the writer's compare-and-set drops A's. Before A
hears of it (its spool had not committed yet) A looks again: only the target's node became known,
an `OBSERVED` of the healthy state no transition stored. B's next look sees the target healthy:
the change's one transition. Three orders of the commits: A's batch before B's next look, after
it, or between B's look and B's commit. In every order the change must be stored once as a
transition (`MODIFIED`), and no heartbeat may claim a state the store did not hold: before, A's
heartbeat was stored (a healthy sample before any transition to healthy), and where it committed
first its checkpoint replaced B's ADDED, so B's change was dropped (or never made: B re-read
A's heartbeat) and the change was stored only as a heartbeat. Tencent CLB's official SDK against
tests/lb/fakecloud.FakeCloud, a real store on SQLite and PostgreSQL, each replica with its own
writer and its own clock."""

from __future__ import annotations

import asyncio
import copy

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.sources.lb.tracker import ServiceKey
from gapwatch.recorder.sources.view import NodeInfo
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.test_stale_heartbeat import Clock
from tests.kubeproxy.test_stale_heartbeat_replay import lane_starts, settled
from tests.lb.fakecloud import FakeCloud
from tests.lb.harness import node, stored
from tests.lb.test_first_look_race import replica as race_replica
from tests.lb.test_stale_heartbeat import keep_looking, look
from tests.lb.test_stale_heartbeat_replay import (
    MEMBERS,
    NODE,
    NODES,
    SERVICE,
    TARGET,
    cluster_rows,
    health,
)

ORDERS = ["heartbeat-before-the-look", "change-first", "heartbeat-between"]


def replica(fake: FakeCloud, engine: Engine, nodes: list[NodeInfo]) -> tuple[PollerSource, Clock]:
    clock = Clock()
    source = race_replica(
        fake, engine, clock=clock, heartbeat_s=5.0, service=ServiceKey("default", "nginx"),
        nodes=nodes,
    )  # fmt: skip
    return source, clock


def rows(engine: Engine) -> list[Observation]:
    """The target's stored rows in time order."""
    return sorted(
        (o for o in stored(engine) if o.payload["Target"]["Id"] == TARGET),
        key=lambda o: o.observed_at,
    )


def state(obs: Observation) -> str:
    return str(obs.payload["TargetHealth"]["State"])


@pytest.mark.parametrize("order", ORDERS)
def test_a_heartbeat_made_from_a_dropped_first_look_is_not_stored(
    store: Engine, order: str
) -> None:
    EventWriter(store, derive=write_facts).write(cluster_rows())
    known = [node(name, f"qcloud:///800002/{ident}", ip) for name, ident, ip, _ in NODES]
    late: list[NodeInfo] = []  # A's view: the Nodes reach it between its first two looks
    with FakeCloud() as fake:
        fake.answer("DescribeTargets", copy.deepcopy(MEMBERS))
        fake.answer("DescribeTargetHealth", health(False))
        (a, a_clock), (b, b_clock) = replica(fake, store, late), replica(fake, store, known)

        async def race() -> None:
            sink_a = WriterSink(EventWriter(store, derive=write_facts))
            sink_b = WriterSink(EventWriter(store, derive=write_facts))
            assert await look(b, b_clock, sink_b, 10.0, 10.1) == 2  # ADDED: unhealthy
            fake.answer("DescribeTargetHealth", health(True))  # healthy from 10.15 s
            assert await look(a, a_clock, sink_a, 10.2, 10.3) == 2  # ADDED: healthy, no node
            await sink_b.flush()  # B's first look is stored first: A's will be dropped
            late.extend(known)
            # A has not heard of the drop: only the nodes became known (heartbeats)
            assert await look(a, a_clock, sink_a, 10.5, 10.6) == 2
            if order == ORDERS[0]:
                await sink_a.flush()
            await look(b, b_clock, sink_b, 11.0, 11.7)
            if order == ORDERS[2]:
                await sink_a.flush()
            await sink_b.flush()
            await sink_a.flush()
            # both keep looking: healthy
            await keep_looking((a, a_clock, sink_a), (b, b_clock, sink_b), (12.0, 13.0, 16.5, 22.0))

        asyncio.run(race())

    history = rows(store)
    changes = [(o.op, state(o)) for o in history if o.op != "OBSERVED"]
    assert changes == [("ADDED", "unhealthy"), ("MODIFIED", "healthy")], history
    last = "unhealthy"
    for obs in history:  # a heartbeat repeats the state the transitions before it stored
        if obs.op == "OBSERVED":
            assert state(obs) == last, (obs, history)
        else:
            last = state(obs)
    lane = lane_starts(store, SERVICE, NODE, "lb")
    seen = settled(lane)
    assert [s for s, _ in seen] == ["UNHEALTHY", "HEALTHY"], lane
    assert 10.0 <= seen[1][1] <= 11.7, lane
