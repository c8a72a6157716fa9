"""Two LB poller replicas on one store, one of them stalled: its look was asked while the LB still
reported a target's old weight and answered (its clock read) after the other replica had stored
the change. Its heartbeat (`OBSERVED`) of the old state must not become the target's stored last
state over the newer change: ordered by when its answer arrived, its checkpoint replaced the
change's, so that replica's next look of the new weight was made from its own heartbeat, passed
the writer's compare-and-set and stored the change a second time (the kube-proxy prober's
defect, tests/kubeproxy/test_stale_heartbeat.py; found there in traced soaks). Tencent CLB's
official SDK against tests/lb/fakecloud.FakeCloud (the published samples), a real store on
SQLite and PostgreSQL, each replica with its own writer and its own clock."""

from __future__ import annotations

import asyncio
import copy

from sqlalchemy import Engine

from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.test_stale_heartbeat import Clock
from tests.lb.fakecloud import FakeCloud, fixture
from tests.lb.harness import stored
from tests.lb.test_first_look_race import replica as race_replica

GROUP = "lb-qc2iq5yc/lbl-4ue2rpl2"


def replica(fake: FakeCloud, engine: Engine) -> tuple[PollerSource, Clock]:
    """A poller as the recorder builds it (resume from the store, guarded), with a heartbeat
    every 5 s and its own clock."""
    clock = Clock()
    return race_replica(fake, engine, clock=clock, heartbeat_s=5.0), clock


async def look(
    source: PollerSource, clock: Clock, sink: WriterSink, asked: float, answered: float
) -> int:
    """One look asked at `asked` and answered at `answered` (a resume before it, at the start or
    after a transition the writer dropped, reads the clock at `asked` too); returns the
    observations put."""
    if source._resume_due or source._dropped:
        clock.reads(asked, asked, answered)
    else:
        clock.reads(asked, answered)
    return await source.look(sink)


async def first_looks(
    a: tuple[PollerSource, Clock, WriterSink], b: tuple[PollerSource, Clock, WriterSink]
) -> None:
    """A's first look (every target `ADDED`, stored at 10.1 s), then B's, which reads them from
    the store and stores nothing."""
    assert await look(*a, 10.0, 10.1) == 2
    await a[2].flush()
    assert await look(*b, 10.5, 10.6) == 0


async def keep_looking(
    a: tuple[PollerSource, Clock, WriterSink],
    b: tuple[PollerSource, Clock, WriterSink],
    starts: tuple[float, ...],
) -> None:
    """At each start A looks (answered 0.1 s later), then B (0.2 s after A), each look committed
    before the next."""
    for start in starts:
        for (source, clock, sink), after in ((a, 0.0), (b, 0.2)):
            await look(source, clock, sink, start + after, start + after + 0.1)
            await sink.flush()


def weights(engine: Engine) -> list[tuple[str, int]]:
    return [
        (o.op, o.payload["Weight"])
        for o in stored(engine)
        if o.payload.get("TargetGroupArn") == GROUP and o.op != "OBSERVED"
    ]


def test_a_stalled_replicas_heartbeat_does_not_let_it_store_the_change_again(
    store: Engine,
) -> None:
    targets = fixture("tencent-clb-DescribeTargets-example2-output.json")
    with FakeCloud() as fake:
        fake.answer("DescribeTargets", targets)
        fake.answer(
            "DescribeTargetHealth", fixture("tencent-clb-DescribeTargetHealth-example1-output.json")
        )
        (a, a_clock), (b, b_clock) = replica(fake, store), replica(fake, store)

        async def race() -> None:
            sink_a = WriterSink(EventWriter(store, derive=write_facts))
            sink_b = WriterSink(EventWriter(store, derive=write_facts))
            await first_looks((a, a_clock, sink_a), (b, b_clock, sink_b))
            # B's look is asked at 66.0 and gets weight 40; its answer is read at 73.5 ...
            assert await look(b, b_clock, sink_b, 66.0, 73.5) >= 1  # heartbeats (5 s passed)
            # ... while the target is drained (weight 0) and A stores the change at 72.6
            graceful = copy.deepcopy(targets)
            graceful["Response"]["Listeners"][1]["Targets"][0]["Weight"] = 0
            fake.answer("DescribeTargets", graceful)
            assert await look(a, a_clock, sink_a, 70.5, 72.6) >= 1  # the change (and a heartbeat)
            await sink_a.flush()
            await sink_b.flush()  # B's heartbeats, committed after A's change
            # B's next look sees weight 0: the change A stored, not one to store again
            await look(b, b_clock, sink_b, 74.0, 74.1)
            await sink_b.flush()
            await look(a, a_clock, sink_a, 74.2, 74.3)
            await sink_a.flush()

        asyncio.run(race())
    assert weights(store) == [("ADDED", 40), ("MODIFIED", 0)]
