"""Two LB poller replicas racing on one store (recorder/writer.py `Guard`): each looks before the
other's look is committed, so the store read before a change shows neither the other's first
look nor its change; the writer's compare-and-set stores the first to commit and drops the
other's, and the replica whose transition was dropped reloads that target from the store.
Tencent CLB's official SDK against tests/lb/fakecloud.FakeCloud (the published samples), a real
store on SQLite and PostgreSQL. The order of the commits is set by the test (no timing)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.sources.lb.laststate import seed_tracker
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.poller import PollerSource, PollSettings
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.sources.lb.tencent import TencentClbClient
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, ServiceKey, Tracker
from gapwatch.recorder.sources.view import NodeInfo
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.lb.fakecloud import FakeCloud, fixture
from tests.lb.harness import CLUSTER, node, now, stored


def replica(
    fake: FakeCloud,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = now,
    heartbeat_s: float = 3600.0,
    service: ServiceKey = NO_SERVICE,
    nodes: Sequence[NodeInfo] = (node("tke-1", "qcloud:///800002/ins-19425y2y"),),
) -> PollerSource:
    """A poller as the recorder builds it (lb/build.py): it reads the store at resume, and the
    spool commits on its own (no flush per look). `nodes` is read at each look (a list the
    caller extends is a Node reaching the view)."""

    def resume(tracker: Tracker, at: datetime) -> dict[str, Any]:
        read: dict[str, Any] = {}
        seed_tracker(tracker, engine, cluster=CLUSTER, now=at, heartbeat_s=heartbeat_s, stored=read)
        return read

    def adapter(count: Callable[[str], None]) -> TencentClbClient:
        return TencentClbClient(
            load_balancer_id="lb-qc2iq5yc", region="ap-guangzhou", endpoint=fake.url, count=count
        )

    return PollerSource(
        name="tencent-clb",
        cluster=CLUSTER,
        adapter=adapter,
        clock=clock,
        metrics=PollerMetrics(CollectorRegistry(), "tencent-clb", now),
        nodes=lambda: nodes,
        service_of=lambda _group: service,
        settings=PollSettings(interval_s=0.01, heartbeat_s=heartbeat_s),
        resume=resume,
        flush_each_look=False,
    )


def transitions(engine: Engine) -> list[tuple[str, str, int]]:
    return sorted(
        (o.op, o.payload["TargetGroupArn"], o.payload["Weight"])
        for o in stored(engine)
        if o.op != "OBSERVED"
    )


def test_racing_first_looks_and_changes_are_each_stored_once(store: Engine) -> None:
    targets = fixture("tencent-clb-DescribeTargets-example2-output.json")
    with FakeCloud() as fake:
        fake.answer("DescribeTargets", targets)
        fake.answer(
            "DescribeTargetHealth", fixture("tencent-clb-DescribeTargetHealth-example1-output.json")
        )
        a, b = replica(fake, store), replica(fake, store)

        async def race() -> None:
            sink_a = WriterSink(EventWriter(store, derive=write_facts))
            sink_b = WriterSink(EventWriter(store, derive=write_facts))
            # both look at targets nobody stored, then commit one after the other
            assert await a.look(sink_a) == 2 and await b.look(sink_b) == 2
            await sink_a.flush()
            await sink_b.flush()
            assert (sink_a.result.inserted, sink_b.result.superseded) == (2, 2)
            # both see a target drained (weight 0); each reads the store before the change
            # becomes a transition, and neither sees the other's, not yet committed
            graceful = copy.deepcopy(targets)
            graceful["Response"]["Listeners"][1]["Targets"][0]["Weight"] = 0
            fake.answer("DescribeTargets", graceful)
            assert await a.look(sink_a) == 1 and await b.look(sink_b) == 1
            await sink_a.flush()
            await sink_b.flush()
            assert (sink_a.result.inserted, sink_b.result.superseded) == (3, 3)
            # b reloads the target from the store: its next look has nothing new to say
            assert await b.look(sink_b) == 0

        asyncio.run(race())
    assert transitions(store) == [
        ("ADDED", "lb-qc2iq5yc/lbl-4fo6k8na/loc-o9732aw0", 10),
        ("ADDED", "lb-qc2iq5yc/lbl-4ue2rpl2", 40),
        ("MODIFIED", "lb-qc2iq5yc/lbl-4ue2rpl2", 0),
    ]
