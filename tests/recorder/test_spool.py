"""The shared spool: bounded in bytes, says when it is full, backpressures, loses nothing.

The writer is the real EventWriter on a real store; a gate (a threading.Event its write waits
on) stands for a slow or stalled database, so the tests decide when batches may commit.
"""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, func, select
from structlog.testing import capture_logs

from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.sources.k8s.resources import to_observation
from gapwatch.recorder.spool import (
    ITEM_OVERHEAD,
    MEMORY_PER_JSON_BYTE,
    Spool,
    SpoolSettings,
    item_size,
)
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import Checkpoint, EventWriter, Guarded, WriteResult, load_checkpoints
from gapwatch.replay.facts import write_facts
from tests.k8s import objects

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class GatedWriter(EventWriter):
    """The real writer, each batch held until the gate opens."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, derive=write_facts)
        self.gate = threading.Event()
        self.batches: list[int] = []

    def write(
        self,
        observations: Iterable[Observation],
        checkpoints: Sequence[Checkpoint] = (),
        guarded: Sequence[Guarded] = (),
    ) -> WriteResult:
        assert self.gate.wait(30), "the test never opened the gate"
        batch = list(observations)
        self.batches.append(len(batch))
        return super().write(batch, checkpoints, guarded)


def pod_item(i: int, padding: int = 0, source_rv: bool = True) -> Emitted:
    pod = objects.pod("shop", f"web-{i}", "node-1", {"app": "web"})
    pod["metadata"]["resourceVersion"] = str(1000 + i)
    pod["metadata"].setdefault("annotations", {})["pad"] = "x" * padding
    obs = to_observation(cluster="c", kind="Pod", op="ADDED", obj=pod, observed_at=NOW)
    checkpoint = Checkpoint("c", obs.source, "Pod", {"resourceVersion": str(1000 + i)})
    return Emitted(obs, checkpoint if source_rv else None)


async def until(predicate: object, what: str) -> None:
    """Yield to the loop until `predicate()` holds (a hang guard, not a timing assertion)."""
    assert callable(predicate)
    for _ in range(3000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_item_size_weighs_the_payloads_json_size_times_its_memory_factor() -> None:
    small, large = pod_item(1), pod_item(2, padding=60_000)
    assert item_size(large) - item_size(small) == MEMORY_PER_JSON_BYTE * 60_000
    assert item_size(Emitted(None, Checkpoint("c", "s", "k", 1))) == ITEM_OVERHEAD


def decoded_items() -> list[tuple[str, bytes]]:
    """(kind, JSON) of the published objects (tests/fixtures/k8s) and of this suite's Pods."""
    out = [("Node", orjson.dumps(node)) for node in objects.nodes()]
    out += [("Service", orjson.dumps(service)) for service in objects.services()]
    out.append(("EndpointSlice", orjson.dumps(objects.endpoint_slice("shop", "gw-a", "gw", "n1"))))
    out += [("Pod", orjson.dumps(pod_item(i).observation.payload)) for i in range(3)]  # type: ignore[union-attr]
    return out


def test_item_size_is_the_memory_the_item_holds_within_a_third() -> None:
    """The spool's bound is memory: each item, decoded as a watch decodes it (orjson), holds
    within a third of its weight as measured by tracemalloc. Weighing the JSON alone (the
    spool before) put the held memory at 3-5 times the bound."""
    for kind, body in decoded_items():
        copies = 50
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            held = [
                Emitted(
                    to_observation(
                        cluster="c", kind=kind, op="ADDED", obj=orjson.loads(body), observed_at=NOW
                    ),
                    None,
                )
                for _ in range(copies)
            ]
            measured = (tracemalloc.get_traced_memory()[0] - before) / copies
        finally:
            tracemalloc.stop()
        weight = item_size(held[0])
        assert 0.67 * weight <= measured <= 1.33 * weight, (kind, len(body), weight, measured)


def test_full_spool_backpressures_logs_once_and_loses_nothing(engine: Engine) -> None:
    size = item_size(pod_item(0, padding=10_000))
    settings = SpoolSettings(max_bytes=4 * size, batch_size=2, flush_interval_s=0.01)
    metrics = RecorderMetrics()
    writer = GatedWriter(engine)

    def sample(name: str) -> float:
        return float(metrics.registry.get_sample_value(name) or 0.0)

    async def main() -> None:
        spool = Spool(writer=writer, clock=lambda: NOW, settings=settings, metrics=metrics)
        run = asyncio.create_task(spool.run())
        put = 0

        async def produce() -> None:
            nonlocal put
            for i in range(20):
                await spool.put(pod_item(i, padding=10_000))
                put += 1

        producer = asyncio.create_task(produce())
        await until(lambda: spool._waiting == 1, "a put waiting for room")
        # The writer holds one batch (2 items) at the gate; the queue holds what fits beside it.
        assert put == 4 and spool.held_bytes == 4 * size
        assert sample("gapwatch_recorder_spool_full") == 1
        assert sample("gapwatch_recorder_spool_bytes") == 4 * size
        writer.gate.set()
        await producer
        await spool.flush()
        assert sample("gapwatch_recorder_spool_full") == 0 and spool.held_bytes == 0
        await spool.close()
        await run

    with capture_logs() as logs:
        asyncio.run(main())
    assert count(engine) == 20
    assert load_checkpoints(engine, "c", "k8s-watch") == {"Pod": {"resourceVersion": "1019"}}
    full = [e for e in logs if e["event"].startswith("spool full")]
    assert len(full) == 1 and full[0]["max_bytes"] == 4 * size
    assert sample("gapwatch_recorder_spool_full_episodes_total") == 1
    assert sample("gapwatch_recorder_events_recorded_total") == 0  # labelled by source:
    assert (
        metrics.registry.get_sample_value(
            "gapwatch_recorder_events_recorded_total", {"source": "k8s-watch"}
        )
        == 20
    )


def test_an_item_larger_than_the_bound_passes_alone(engine: Engine) -> None:
    settings = SpoolSettings(max_bytes=1_000, batch_size=10, flush_interval_s=0.01)
    writer = GatedWriter(engine)
    writer.gate.set()

    async def main() -> None:
        spool = Spool(writer=writer, clock=lambda: NOW, settings=settings)
        run = asyncio.create_task(spool.run())
        for i in range(3):
            await spool.put(pod_item(i, padding=5_000))
        await spool.close()
        await run

    asyncio.run(main())
    assert count(engine) == 3 and writer.batches == [1, 1, 1]


def test_each_source_commits_its_own_rows_and_checkpoints(engine: Engine) -> None:
    """Two sources in one batch: each one's checkpoint is stored with its rows, counted under
    its name."""
    metrics = RecorderMetrics()
    probe = Observation(
        observed_at=NOW,
        cluster="c",
        source="kube-proxy-probe",
        kind="HealthCheck",
        op="OBSERVED",
        payload={"localEndpoints": 1},
        node="node-1",
    )

    async def main() -> None:
        spool = Spool(
            writer=EventWriter(engine, derive=write_facts), clock=lambda: NOW, metrics=metrics
        )
        run = asyncio.create_task(spool.run())
        await spool.put(pod_item(1))
        await spool.put(Emitted(probe, Checkpoint("c", "kube-proxy-probe", "round", {"n": 7})))
        await spool.put(
            Emitted(None, Checkpoint("c", "k8s-watch", "Pod", {"resourceVersion": "9"}))
        )
        await spool.close()
        await run

    asyncio.run(main())
    assert count(engine) == 2
    assert load_checkpoints(engine, "c", "kube-proxy-probe") == {"round": {"n": 7}}
    assert load_checkpoints(engine, "c", "k8s-watch") == {"Pod": {"resourceVersion": "9"}}
    for source in ("k8s-watch", "kube-proxy-probe"):
        value = metrics.registry.get_sample_value(
            "gapwatch_recorder_events_recorded_total", {"source": source}
        )
        assert value == 1
