"""The stretch a relist passed over (RelistGap), against the fake API over real HTTP.

The fake kube-apiserver (gapwatch.recorder.lab.fakes.fakeapi) answers 503 while down, forgets
its history on `compact()` and then ends every watch from an older resourceVersion with 410
Gone, as a restarted kube-apiserver behind a compacted etcd does; the watcher must relist and
store once the stretch it could not see: from its last sign of being in sync to the relist.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from gapwatch.recorder.backoff import BackoffSettings
from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.observation import RELIST_GAP, Observation, from_dict
from gapwatch.recorder.sources.k8s.client import ApiEndpoint
from gapwatch.recorder.sources.k8s.relist_gap import gap_observation
from gapwatch.recorder.sources.k8s.resources import RESOURCES, to_observation
from gapwatch.recorder.sources.k8s.source import SCOPE_RELIST
from gapwatch.recorder.sources.k8s.state import Key, LastRow
from gapwatch.recorder.sources.k8s.storeio import load_resume_times
from gapwatch.recorder.sources.k8s.watcher import Item, ResourceWatcher, WatchSettings
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import source_checkpoints
from gapwatch.recorder.timefmt import format_time, parse_time, to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.relisted import node_stretches
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import RecorderThread, caught_up, fast_config, kinds, wait_until
from tests.k8s.mutator import Mutator
from tests.replay.builders import facts_of

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.05) as api:
        for i in range(4):
            api.create("Node", objects.node(i))
        yield api


async def _no_rows(kind: str, namespace: str | None, keys: list[Key]) -> dict[Key, LastRow]:
    return {}


def _watch_through(fake: FakeApiServer, outage: bool, writes: int) -> tuple[list[Item], int]:
    """Watch Nodes until synced, then (outage) go down, write `writes` times, compact and come
    back, or (no outage) compact and end every stream with 410; return the items up to the
    second sync and the resourceVersion the watcher was at before."""
    ticks = itertools.count()

    def clock() -> datetime:  # every reading 1 ms later: which reading was used is visible
        return T0 + timedelta(milliseconds=next(ticks))

    async def run() -> tuple[list[Item], int]:
        async with aiohttp.ClientSession() as session:
            watcher = ResourceWatcher(
                session=session,
                api=ApiEndpoint(host=fake.url),
                resource=RESOURCES["Node"],
                cluster="c",
                clock=clock,
                lookup_last=_no_rows,
                settings=WatchSettings(
                    page_size=2,
                    read_timeout_s=1,
                    backoff=BackoffSettings(initial_s=0.01, max_s=0.05),
                ),
            )
            items: list[Item] = []
            before = -1
            async for item in watcher:
                items.append(item)
                if before < 0 and item.rv == str(fake.rv) and watcher.watching:
                    before = fake.rv  # in sync: now the outage
                    items.append(Item("mark", None, None, at=watcher.synced_at))
                    if outage:
                        fake.down()
                        for i in range(writes):
                            fake.update("Node", fake.get("Node", None, f"node-{i % 4}"))
                        fake.delete("Node", None, "node-3")
                        fake.compact()
                        fake.down(False)
                    else:
                        fake.compact()
                        fake.send_gone()
                elif before >= 0 and item.synced and item.rv == str(fake.rv):
                    return items, before
            raise AssertionError("the watcher ended")

    return asyncio.run(asyncio.wait_for(run(), 30))


def test_a_relist_after_compaction_stores_the_stretch_it_passed_over(
    fake: FakeApiServer,
) -> None:
    items, before = _watch_through(fake, outage=True, writes=5)
    mark = next(i for i in items if i.stream == "mark")
    after = items[items.index(mark) + 1 :]
    gaps = [i.observation for i in after if i.observation and i.observation.kind == RELIST_GAP]
    assert len(gaps) == 1
    gap = gaps[0]
    # from the watcher's last sign of being in sync to the end of the relist
    assert gap.previous_observed_at == mark.at
    assert gap.name == "Node" and gap.namespace is None
    assert gap.payload["fromResourceVersion"] == str(before)
    assert gap.resource_version == gap.payload["toResourceVersion"] == str(fake.rv)
    # the objects written in between: updated (node-0..2), updated then deleted (node-3)
    assert gap.payload["changed"] == ["node-0", "node-1", "node-2", "node-3"]
    relisted = [i.observation for i in after if i.observation and i.observation.kind == "Node"]
    assert relisted and all(o.observed_at <= gap.observed_at for o in relisted)
    assert ("DELETED", "node-3") in {(o.op, o.name) for o in relisted}  # the relist's diff
    # its checkpoint follows it: the next resume point is stamped with the same reading
    assert after[-1].synced and after[-1].at == gap.observed_at
    # the NDJSON form is valid and round-trips
    assert from_dict(gap.to_dict()) == gap


def test_a_node_relist_over_the_wire_leaves_only_the_written_nodes_unknown_in_replay(
    fake: FakeApiServer,
) -> None:
    """The watcher's own output folded by replay: two Nodes updated and one deleted during the
    outage have their Ready condition unknown from the watch skew before the last sign of sync
    to the relist (replay.relisted.node_stretches); node-2, not written, keeps its lane."""
    items, _ = _watch_through(fake, outage=True, writes=2)
    mark = next(i for i in items if i.stream == "mark")
    observations = [i.observation for i in items if i.observation is not None]
    (gap,) = [o for o in observations if o.kind == RELIST_GAP]
    assert gap.payload["changed"] == ["node-0", "node-1", "node-3"]
    state = fold(FoldState(), facts_of(observations))
    skew = timedelta(seconds=DEFAULTS.watch_skew_s)
    assert mark.at is not None
    stretch = (to_micros(mark.at - skew), to_micros(gap.observed_at))
    for name in ("node-0", "node-1", "node-3"):
        assert [(iv.start, iv.end) for iv in node_stretches(state, "c", name, DEFAULTS)] == [
            stretch
        ]
    assert node_stretches(state, "c", "node-2", DEFAULTS) == []


def test_a_410_with_nothing_written_in_between_passes_over_nothing(fake: FakeApiServer) -> None:
    items, _ = _watch_through(fake, outage=False, writes=0)
    assert not [i for i in items if i.observation and i.observation.kind == RELIST_GAP]


def _rows(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _gap_rows(url: str) -> list[tuple[str, str, datetime, datetime | None]]:
    rows = _rows(
        url,
        "SELECT name, resource_version, observed_at, previous_observed_at "
        "FROM events WHERE kind = 'RelistGap' ORDER BY name",
    )
    return [(r[0], r[1], _aware(r[2]), r[3] and _aware(r[3])) for r in rows]


def _record_once(config: RecorderConfig, url: str, fake: FakeApiServer, what: str) -> None:
    """Run the recorder until every stream's checkpoint reaches the fake's resourceVersion."""
    engine = make_engine(url)
    rec = RecorderThread(config, url, fake.url).start()
    try:
        wait_until(lambda: caught_up(engine, fake, config), what)
    finally:
        rec.stop()
        engine.dispose()


def test_recorder_stores_each_streams_gap_once_in_the_real_store(store_url: str) -> None:
    """SQLite and PostgreSQL: an apiserver restart with compaction while the recorder runs,
    then a recorder restart after a compaction while it was down (the stretch starts at the
    checkpoint's stamp); a re-delivery of the same gaps, also as another replica timed them,
    adds no row; replay's facts hold them."""
    config = fast_config()
    engine = make_engine(store_url)
    with FakeApiServer(bookmark_interval=0.05) as fake:
        script = Mutator(fake, seed=17)
        script.seed()
        rec = RecorderThread(config, store_url, fake.url).start()
        wait_until(lambda: caught_up(engine, fake, config), "the first sync")
        fake.down()  # streams dropped: nothing reaches the recorder after this
        down_at = datetime.now(UTC)
        script.run(60, noops=False)
        fake.compact()
        back_at = datetime.now(UTC)
        fake.down(False)
        wait_until(lambda: caught_up(engine, fake, config), "the relists")
        rec.stop()
        first = _gap_rows(store_url)
        assert sorted(r[0] for r in first) == sorted(kinds(config))  # one per stream
        # replay starts a stretch the watch skew before its last sign of sync (an item read
        # after down() was sent before it): the stretch covers the outage
        skew = timedelta(seconds=DEFAULTS.watch_skew_s)
        for _name, _rv, observed, previous in first:
            assert previous is not None and previous - skew <= down_at <= back_at <= observed
        # down: changes, compaction; the restarted recorder's streams get 410 and relist
        stamps = _checkpoint_stamps(store_url)
        script.run(40, noops=False)
        fake.compact()
        _record_once(config, store_url, fake, "the relists after the restart")
    second = [r for r in _gap_rows(store_url) if r not in first]
    assert sorted(r[0] for r in second) == sorted(kinds(config))
    assert {(r[0], r[3]) for r in second} == {(k, stamps[k]) for k in kinds(config)}
    _redeliver(store_url)
    with engine.connect() as conn:
        facts = conn.execute(text("SELECT count(*) FROM facts WHERE fact = 'relist'")).scalar()
        count = conn.execute(text("SELECT count(*) FROM events WHERE kind = 'RelistGap'")).scalar()
    engine.dispose()
    assert count == len(first) + len(second) == facts


def _checkpoint_stamps(url: str) -> dict[str, datetime]:
    out = {}
    for key, value in _rows(url, "SELECT key, value FROM source_checkpoints"):
        value = value if isinstance(value, dict) else json.loads(value)
        out[key] = parse_time(value["at"])
    return out


def _redeliver(url: str) -> None:
    rows = _rows(
        url,
        "SELECT observed_at, cluster, namespace, name, resource_version, "
        "previous_observed_at, payload FROM events WHERE kind = 'RelistGap'",
    )
    engine = make_engine(url)
    try:
        again = []
        for r in rows:
            payload = r.payload if isinstance(r.payload, dict) else json.loads(r.payload)
            for shift in (0, 1):  # as stored, and as the other replica saw it a second later
                again.append(
                    Observation(
                        observed_at=_aware(r.observed_at) + timedelta(seconds=shift),
                        cluster=r.cluster,
                        source="k8s-watch",
                        kind=RELIST_GAP,
                        op="OBSERVED",
                        payload=payload,
                        namespace=r.namespace,
                        name=r.name,
                        resource_version=r.resource_version,
                        previous_observed_at=_aware(r.previous_observed_at),
                    )
                )
        writer = EventWriter(engine, derive=write_facts)
        assert writer.write(again).inserted == 0
    finally:
        engine.dispose()


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite's text: UTC without a zone
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _newest_stored(url: str) -> dict[str, datetime]:
    """kind -> the newest stored observation of that (cluster-wide) stream, read independently."""
    rows = _rows(
        url,
        "SELECT kind, max(observed_at) FROM events "
        "WHERE source = 'k8s-watch' AND kind <> 'RelistGap' GROUP BY kind",
    )
    return {r[0]: _aware(r[1]) for r in rows}


def _unstamp_checkpoints(url: str) -> None:
    """Rewrite every checkpoint as a recorder older than the `at` stamp wrote it."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for row in conn.execute(source_checkpoints.select()).all():
                old = {"resourceVersion": row.value["resourceVersion"]}
                conn.execute(
                    source_checkpoints.update()
                    .where(
                        source_checkpoints.c.cluster == row.cluster,
                        source_checkpoints.c.source == row.source,
                        source_checkpoints.c.key == row.key,
                    )
                    .values(value=old)
                )
    finally:
        engine.dispose()


def test_an_old_checkpoint_without_at_starts_the_gap_at_the_newest_stored_row(
    store_url: str,
) -> None:
    """SQLite and PostgreSQL: a store a recorder wrote before checkpoints carried `at` (the
    stamps removed), changes and a compaction while no recorder runs, then the new recorder:
    every stream gets 410 and relists, and its gap starts at the newest row stored for that
    stream - not null, which replay reads as "since the start of the data". A stream with no
    stored row (Events: the seeded cluster has none) keeps the null start."""
    config = fast_config()
    with FakeApiServer(bookmark_interval=0.05) as fake:
        script = Mutator(fake, seed=23)
        script.seed()
        _record_once(config, store_url, fake, "the first sync")
        newest = _newest_stored(store_url)
        stamps = _checkpoint_stamps(store_url)
        _unstamp_checkpoints(store_url)
        script.run(40, noops=False)
        fake.compact()
        _record_once(config, store_url, fake, "the relists after the upgrade")
    assert "Event" not in newest and {"Service", "Node", "Pod", "EndpointSlice"} <= set(newest)
    # the stamps (removed) were at or past the newest rows: the bound is the row, not a stamp
    assert all(newest[k] <= stamps[k] for k in newest)
    assert any(newest[k] < stamps[k] for k in newest)
    gaps = {r[0]: r[3] for r in _gap_rows(store_url)}
    assert sorted(gaps) == sorted(kinds(config))  # one per stream
    assert gaps == {k: newest.get(k) for k in kinds(config)}


def test_resume_times_prefer_the_stamp_then_the_newest_row_of_that_stream(
    store_url: str,
) -> None:
    """SQLite and PostgreSQL, the store read directly: a stamped checkpoint gives its stamp; an
    unstamped one the newest row of exactly its stream (not another cluster's, kind's or
    namespace's, nor a RelistGap); one with no row of its stream, nothing."""
    engine = make_engine(store_url)

    def row(cluster: str, kind: str, ns: str | None, name: str, minutes: int) -> Observation:
        obj: dict[str, Any] = {"metadata": {"name": name, "resourceVersion": str(minutes)}}
        if ns:
            obj["metadata"]["namespace"] = ns
        at = T0 + timedelta(minutes=minutes)
        return to_observation(cluster=cluster, kind=kind, op="ADDED", obj=obj, observed_at=at)

    gap = gap_observation(
        cluster="c", kind="Pod", namespace="shop", since=None,
        until=T0 + timedelta(minutes=90), from_rv="1", to_rv="90", reason="410",
    )  # fmt: skip
    rows = [
        row("c", "Pod", "shop", "a", 5),
        row("c", "Pod", "shop", "b", 7),
        row("c", "Pod", "other", "a", 30),  # another namespace
        row("other", "Pod", "shop", "a", 40),  # another cluster
        row("c", "Node", None, "n", 3),
        row("c", "EndpointSlice", "shop", "s", 50),
        gap,
    ]
    try:
        assert EventWriter(engine, derive=write_facts).write(rows).inserted == len(rows)
        stamped = format_time(T0 + timedelta(minutes=60))
        checkpoints = {
            "Pod/shop": {"resourceVersion": "7"},
            "Node": {"resourceVersion": "3"},
            "Service": {"resourceVersion": "3"},  # nothing stored
            "EndpointSlice/shop": {"resourceVersion": "50", "at": stamped},
            "Event/shop": {},  # no resume point: nothing to start from
        }
        with engine.begin() as conn:
            for key, value in checkpoints.items():
                conn.execute(
                    source_checkpoints.insert().values(
                        cluster="c", source="k8s-watch", key=key, value=value, updated_at=T0
                    )
                )
        streams = [("Pod", "shop"), ("Node", None), ("Service", None), ("EndpointSlice", "shop")]
        times = load_resume_times(engine, cluster="c", streams=[*streams, ("Event", "shop")])
    finally:
        engine.dispose()
    assert times == {
        "Pod/shop": T0 + timedelta(minutes=7),
        "Node": T0 + timedelta(minutes=3),
        "EndpointSlice/shop": T0 + timedelta(minutes=60),
    }


def _gap_payloads(url: str) -> list[dict[str, Any]]:
    rows = _rows(url, "SELECT payload FROM events WHERE kind = 'RelistGap' ORDER BY id")
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


def test_the_service_streams_relist_at_a_restart_stores_the_stretch_it_passed_over(
    store_url: str,
) -> None:
    """SQLite and PostgreSQL, the default scope: its Service stream lists at every start (the
    scope must know every Service). A first start has nothing to be out of sync with: no gap.
    While no recorder runs, one Service is changed and changed back and another created (no
    compaction: the other streams resume from their checkpoints and lose nothing); at the
    restart the Service stream's LIST sees only the end state, and stores the stretch from its
    checkpoint's stamp, naming those two. A restart with nothing written since stores none."""
    config = fast_config(scope="local-services")
    with FakeApiServer(bookmark_interval=0.05) as fake:
        services = objects.services()
        for service in services:
            fake.create("Service", service)
        fake.create("Node", objects.node(0))
        _record_once(config, store_url, fake, "the first start")
        assert _gap_rows(store_url) == []
        stamps = _checkpoint_stamps(store_url)
        first = services[0]["metadata"]
        changed = fake.get("Service", first["namespace"], first["name"])
        changed["spec"]["externalTrafficPolicy"] = "Cluster"
        fake.update("Service", changed)
        changed["spec"]["externalTrafficPolicy"] = "Local"
        fake.update("Service", changed)
        extra = json.loads(json.dumps(services[-1]))
        extra["metadata"] = {"namespace": "shop", "name": "added-while-down"}
        fake.create("Service", extra)
        fake.update("Node", fake.get("Node", None, "node-0"))
        _record_once(config, store_url, fake, "the restart")
        _record_once(config, store_url, fake, "a restart with nothing written")
    ((name, rv, observed, previous),) = _gap_rows(store_url)
    assert name == "Service" and rv == str(fake.rv)
    assert previous == stamps["Service"] and previous < observed
    (payload,) = _gap_payloads(store_url)
    assert payload["changed"] == sorted(
        [f"{first['namespace']}/{first['name']}", "shop/added-while-down"]
    )
    assert payload["reason"] == SCOPE_RELIST
