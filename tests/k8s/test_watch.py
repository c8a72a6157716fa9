"""The watch layers against the fake over real HTTP: errors, stalls, expired continue tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import yaml

from gapwatch.recorder.backoff import BackoffSettings
from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.k8s.client import ApiEndpoint, load_endpoint
from gapwatch.recorder.sources.k8s.errors import Gone, K8sError, StreamStalled
from gapwatch.recorder.sources.k8s.resources import RESOURCES
from gapwatch.recorder.sources.k8s.state import Key, LastRow
from gapwatch.recorder.sources.k8s.stream import list_page, watch_stream
from gapwatch.recorder.sources.k8s.watcher import Item, ResourceWatcher, WatchSettings
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.05) as api:
        for i in range(10):
            api.create("Node", objects.node(i))
        yield api


async def _events(fake: FakeApiServer, rv: str, read_timeout: float = 5.0) -> list[str]:
    async with aiohttp.ClientSession() as session:
        params = {"resourceVersion": rv, "timeoutSeconds": "1"}
        return [
            e["type"]
            async for e in watch_stream(
                session,
                ApiEndpoint(host=fake.url),
                "/api/v1/nodes",
                params,
                connect_timeout=2,
                read_timeout=read_timeout,
            )
        ]


def test_watch_from_a_compacted_version_raises_gone(fake: FakeApiServer) -> None:
    old = str(fake.rv - 3)
    fake.compact()
    with pytest.raises(Gone):
        asyncio.run(_events(fake, old))


def test_http_errors_and_silent_streams_become_k8s_errors(fake: FakeApiServer) -> None:
    fake.down()
    with pytest.raises(K8sError) as info:
        asyncio.run(_events(fake, str(fake.rv)))
    assert info.value.status == 503
    fake.down(False)
    fake.silence()
    with pytest.raises(StreamStalled):
        asyncio.run(_events(fake, str(fake.rv), read_timeout=0.2))


def test_refusals_that_retrying_never_fixes_say_what_to_do(fake: FakeApiServer) -> None:
    """401 and 403 are retried like any error, forever: the line repeated in the log names the
    fix (the credentials; the ClusterRole's list and watch), not only the server's words."""

    async def listed() -> None:
        async with aiohttp.ClientSession() as session:
            await list_page(
                session, ApiEndpoint(host=fake.url), "/api/v1/nodes", {"limit": "5"}, timeout=5
            )

    fake.refuse(403, "nodes")
    for attempt in (listed(), _events(fake, str(fake.rv))):
        with pytest.raises(K8sError) as info:
            asyncio.run(attempt)
        assert info.value.status == 403
        assert "nodes is forbidden" in str(info.value)
        assert "needs list and watch on this resource" in str(info.value)
    fake.refuse(None, "nodes")
    fake.refuse(401)
    with pytest.raises(K8sError) as info:
        asyncio.run(listed())
    assert info.value.status == 401
    assert "refused the credentials" in str(info.value)
    fake.refuse(None)
    asyncio.run(listed())  # and back


async def _no_rows(kind: str, namespace: str | None, keys: list[Key]) -> dict[Key, LastRow]:
    return {}


def _watcher(session: aiohttp.ClientSession, fake: FakeApiServer, **kw: object) -> ResourceWatcher:
    settings = WatchSettings(
        page_size=3, read_timeout_s=1, backoff=BackoffSettings(initial_s=0.01, max_s=0.05)
    )
    options: dict[str, object] = {"lookup_last": _no_rows, **kw}
    return ResourceWatcher(
        session=session,
        api=ApiEndpoint(host=fake.url),
        resource=RESOURCES["Node"],
        cluster="c",
        clock=lambda: NOW,
        settings=settings,
        **options,  # type: ignore[arg-type]
    )


def test_expired_continue_token_restarts_the_list(fake: FakeApiServer) -> None:
    async def run() -> tuple[list[Item], ResourceWatcher]:
        async with aiohttp.ClientSession() as session:
            watcher = _watcher(session, fake)
            items: list[Item] = []
            relist: AsyncIterator[Item] = watcher._relist()
            async for item in relist:
                items.append(item)
                if len(items) == 1:  # after the first page: history moves on and is compacted
                    fake.update("Node", fake.get("Node", None, "node-5"))
                    fake.compact()
            return items, watcher

    items, watcher = asyncio.run(run())
    assert fake.counters.expired_continue == 1
    assert fake.counters.lists == 3  # page 1, page 2 (410), then all in one unpaginated LIST
    observed = [i.observation for i in items if i.observation is not None]
    assert sorted({o.name for o in observed if o.name}) == sorted(f"node-{i}" for i in range(10))
    node5 = [o for o in observed if o.name == "node-5"]
    assert node5[-1].resource_version == str(fake.rv)  # the restarted list saw the new version
    assert items[-1].synced and items[-1].rv == str(fake.rv) == watcher.rv


def test_relist_emits_deleted_for_vanished_objects_with_their_last_stored_row(
    fake: FakeApiServer,
) -> None:
    stored = {("", "node-2"): LastRow("MODIFIED", "1003", {"metadata": {"name": "node-2"}})}

    async def lookup(kind: str, namespace: str | None, keys: list[Key]) -> dict[Key, LastRow]:
        return {k: stored[k] for k in keys if k in stored}

    async def run() -> list[Item]:
        async with aiohttp.ClientSession() as session:
            watcher = _watcher(session, fake, lookup_last=lookup)
            first = [i async for i in watcher._relist()]
            fake.delete("Node", None, "node-2")
            fake.delete("Node", None, "node-7")  # never stored: a stub DELETED is still written
            return first + [i async for i in watcher._relist()]

    items = asyncio.run(run())
    deleted = [i.observation for i in items if i.observation and i.observation.op == "DELETED"]
    assert [(o.name, o.resource_version) for o in deleted] == [
        ("node-2", "1003"),
        ("node-7", next(str(c.rv) for c in fake.log if c.key == ("", "node-7"))),
    ]
    assert deleted[0].payload == stored[("", "node-2")].payload


def test_kubeconfig_endpoint_sends_its_token(fake: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake.url}}],
                "users": [{"name": "recorder", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "recorder"}}],
                "current-context": "fake",
            }
        )
    )
    api = load_endpoint(kubeconfig=str(kubeconfig))

    async def run() -> dict[str, object]:
        async with aiohttp.ClientSession() as session:
            return await list_page(session, api, "/api/v1/nodes", {"limit": "1"}, timeout=5)

    page = asyncio.run(run())
    assert api.host == fake.url and len(page["items"]) == 1  # type: ignore[arg-type]
    assert "Bearer t0ken" in fake.authorizations
    with pytest.raises(ConfigError):
        load_endpoint(kubeconfig=str(tmp_path / "missing"))


def test_410s_in_a_row_back_off_and_record_each_object_once(fake: FakeApiServer) -> None:
    """Every WATCH answers 410 right after its LIST (the fake at the wire level, its history
    compacted past every version it will list: an API server whose watch cache is behind its
    LIST). Session 33 found the watcher relisting at once each time: 334 full LISTs in 3 s
    against the fake, never a backoff. The first 410 still relists at once (a compaction after
    a stream that worked); those in a row wait as any error does, doubling; the objects are
    recorded once however often they are listed. `sleep` is the test's: nothing is timed."""
    fake.compact(fake.rv + 1_000_000)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    backoff = BackoffSettings(initial_s=0.01, max_s=10.0, jitter=0.0)

    async def run() -> list[Item]:
        async with aiohttp.ClientSession() as session:
            watcher = ResourceWatcher(
                session=session,
                api=ApiEndpoint(host=fake.url),
                resource=RESOURCES["Node"],
                cluster="c",
                clock=lambda: NOW,
                lookup_last=_no_rows,
                settings=WatchSettings(read_timeout_s=5, backoff=backoff),
                sleep=sleep,
            )
            items: list[Item] = []
            async for item in watcher:
                items.append(item)
                if fake.counters.watches >= 6:
                    break
            return items

    items = asyncio.run(run())
    assert (fake.counters.lists, fake.counters.gone) == (7, 6)
    assert waits == [0.02, 0.04, 0.08, 0.16, 0.32]  # none after the first 410, then doubling
    observed = [i.observation for i in items if i.observation is not None]
    assert sorted(str(o.name) for o in observed if o.kind == "Node") == sorted(
        f"node-{i}" for i in range(10)
    )


def test_a_410_after_an_outage_relists_at_once(fake: FakeApiServer) -> None:
    """The API server answers 503, then comes back with its history compacted (every watch 410,
    the fake at the wire level): the watch waits out the 503, relists at once on the first 410,
    and backs off only when the watch after that relist is 410 again."""
    looks: list[int] = []  # the 410s answered when each wait began

    async def sleep(_seconds: float) -> None:
        looks.append(fake.counters.gone)
        if len(looks) == 1:  # the outage's wait: the server comes back, compacted
            fake.down(False)
            fake.compact(fake.rv + 1_000_000)

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            watcher = _watcher(session, fake, sleep=sleep, start_rv=str(fake.rv))
            async for _item in watcher:
                if len(looks) >= 2 or fake.counters.watches >= 20:  # main never waits
                    break

    fake.down(True)
    asyncio.run(run())
    assert looks == [0, 2]  # no wait between the first 410 and its relist
