"""The fake API server speaks the protocol the real `kubernetes` client expects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.05) as api:
        for i in range(5):
            api.create("Node", objects.node(i))
        yield api


def core(fake: FakeApiServer) -> client.CoreV1Api:
    return client.CoreV1Api(client.ApiClient(client.Configuration(host=fake.url)))


def meta(page: client.V1NodeList) -> client.V1ListMeta:
    assert page.metadata is not None
    return page.metadata


def names(page: client.V1NodeList) -> list[str]:
    return [n.metadata.name for n in page.items if n.metadata is not None and n.metadata.name]


def stream(list_call: Callable[..., Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """The real client's watch (its `watch` module has no annotations: typed here as Any)."""
    untyped: Any = watch
    yield from untyped.Watch().stream(list_call, **kwargs)


def test_real_client_pages_through_a_consistent_list(fake: FakeApiServer) -> None:
    api = core(fake)
    first = api.list_node(limit=2)
    fake.create("Node", objects.node(99))  # after the list began: not in its pages
    seen = names(first)
    token = meta(first)._continue
    while token:
        page = api.list_node(limit=2, _continue=token)
        assert meta(page).resource_version == meta(first).resource_version
        seen += names(page)
        token = meta(page)._continue
    assert seen == sorted(f"node-{i}" for i in range(5))


def test_real_client_watch_bookmarks_and_410(fake: FakeApiServer) -> None:
    api = core(fake)
    rv = meta(api.list_node()).resource_version
    fake.update("Node", fake.get("Node", None, "node-3"))
    seen = []
    for event in stream(
        api.list_node, resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=1
    ):
        seen.append((event["type"], type(event["object"]).__name__))
    assert seen[0] == ("MODIFIED", "V1Node")
    assert ("BOOKMARK", "dict") in seen  # the client's trap: bookmarks stay raw dicts
    fake.update("Node", fake.get("Node", None, "node-3"))
    fake.compact()
    with pytest.raises(ApiException) as info:
        list(stream(api.list_node, resource_version=rv, timeout_seconds=1))
    assert info.value.status == 410


def test_expired_continue_token_is_410(fake: FakeApiServer) -> None:
    api = core(fake)
    first = api.list_node(limit=2)
    fake.update("Node", fake.get("Node", None, "node-0"))
    fake.compact()
    with pytest.raises(ApiException) as info:
        api.list_node(limit=2, _continue=meta(first)._continue)
    assert info.value.status == 410


def test_a_watcher_that_stops_reading_is_closed_as_a_slow_consumer() -> None:
    """A client that reads one event and then stalls is cut off once it falls behind. The
    changes keep coming until it is: how much a stalled stream holds is the kernel's socket
    buffers' business (this machine lets a loopback receive buffer grow to 32 MB, past the
    25 MB of the first 3,000 changes: a clean-clone CI run once saw no close in 30 s)."""

    async def stalled_then_read(api: FakeApiServer) -> tuple[int, int]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{api.url}/api/v1/nodes", params={"watch": "1", "resourceVersion": str(api.rv - 1)}
            ) as response,
        ):
            await response.content.readline()  # the first event, then nothing for a while
            made = 0
            for _ in range(600):  # until the server gives up on us (a hang guard, not a timing)
                if api.counters.slow_closed:
                    break
                for _ in range(3000 if not made else 200):  # ~8 KB each
                    api.update("Node", api.get("Node", None, "node-1"))
                    made += 1
                await asyncio.sleep(0.05)
            lines = 0
            try:
                async for _ in response.content:
                    lines += 1
            except aiohttp.ClientPayloadError:
                pass  # aborted by the server, as a real one closes a slow watcher
            return lines, made

    with FakeApiServer(max_watch_lag=100) as api:
        api.create("Node", objects.nodes()[0] | {"metadata": {"name": "node-1"}})
        api.update("Node", api.get("Node", None, "node-1"))
        lines, made = asyncio.run(stalled_then_read(api))
        assert api.counters.slow_closed == 1
    assert lines < made  # the stream ended well before the last change
