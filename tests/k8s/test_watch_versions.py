"""resourceVersions a watch should never send: going back, not numbers, and bookmark storms.

Real HTTP: a local aiohttp server scripted at the wire level answers the LISTs and WATCHes of
one ResourceWatcher (the lab's FakeApiServer keeps its history in version order and cannot
go back, which is the point here). `sleep` is the test's: nothing is timed.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
import structlog.testing
from aiohttp import web

from gapwatch.recorder.backoff import BackoffSettings
from gapwatch.recorder.sources.k8s.resources import RESOURCES
from gapwatch.recorder.sources.k8s.state import Key, LastRow
from gapwatch.recorder.sources.k8s.watcher import Item, ResourceWatcher, WatchSettings
from tests.k8s import objects
from tests.k8s.localhttp import serving

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

Event = dict[str, Any]


def _node(index: int, rv: int | str, label: str) -> dict[str, Any]:
    obj = objects.node(index)
    obj["metadata"]["resourceVersion"] = str(rv)
    obj["metadata"].setdefault("labels", {})["gapwatch.test/version"] = label
    return obj


def _event(type_: str, obj: dict[str, Any]) -> Event:
    return {"type": type_, "object": copy.deepcopy(obj)}


def _bookmark(rv: str) -> Event:
    return {"type": "BOOKMARK", "object": {"kind": "Node", "metadata": {"resourceVersion": rv}}}


async def _no_rows(kind: str, namespace: str | None, keys: list[Key]) -> dict[Key, LastRow]:
    return {}


class Script:
    """LIST answers and WATCH bodies, served in turn (the last one again once they run out)."""

    def __init__(self, lists: list[tuple[str, list[dict[str, Any]]]], watches: list[list[Event]]):
        self.lists, self.watches = lists, watches
        self.listed = self.watched = 0
        self.watched_from: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "1":
            self.watched_from.append(request.query.get("resourceVersion", ""))
            body = self.watches[min(self.watched, len(self.watches) - 1)]
            self.watched += 1
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for event in body:
                await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
            return response
        rv, items = self.lists[min(self.listed, len(self.lists) - 1)]
        self.listed += 1
        page = {"kind": "NodeList", "metadata": {"resourceVersion": rv}, "items": items}
        return web.json_response(page)


def _run(
    script: Script, until: Callable[[Script], bool], **settings: Any
) -> tuple[list[Item], list[float]]:
    """Watch `script`'s server until `until`; `settings` beside the tests' short timeouts."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run() -> list[Item]:
        items: list[Item] = []
        async with serving("/api/v1/nodes", script.handle) as api, aiohttp.ClientSession() as s:
            watcher = ResourceWatcher(
                session=s,
                api=api,
                resource=RESOURCES["Node"],
                cluster="c",
                clock=lambda: NOW,
                lookup_last=_no_rows,
                settings=WatchSettings(
                    read_timeout_s=5,
                    backoff=BackoffSettings(initial_s=0.01, max_s=0.05),
                    **settings,
                ),
                sleep=sleep,
            )
            async for item in watcher:
                items.append(item)
                if until(script):
                    break
        return items

    return asyncio.run(run()), waits


def _observed(items: list[Item]) -> list[tuple[str, str]]:
    return [
        (str(i.observation.name), str(i.observation.resource_version))
        for i in items
        if i.observation is not None
    ]


def test_a_resource_version_that_goes_back_relists_and_loses_no_change() -> None:
    """An API server restored from an etcd backup: its versions count again from below the
    ones the watch had seen. On main the changes it sent were taken as already recorded (each
    object's version is newer than theirs) and the watch resumed from the older version
    without a relist: node-1's change at 50 and node-0's at 51 were never recorded."""
    before = [_node(0, 100, "a"), _node(1, 90, "a")]
    restored = [_node(0, 51, "restored"), _node(1, 50, "restored")]
    script = Script(
        lists=[("100", before), ("52", restored)],
        watches=[
            [
                _event("MODIFIED", _node(0, 101, "b")),
                _event("MODIFIED", restored[1]),
                _event("MODIFIED", restored[0]),
            ],
            [_bookmark("52")],
        ],
    )
    items, _waits = _run(script, lambda s: s.watched >= 3)
    observed = _observed(items)
    assert ("node-1", "50") in observed and ("node-0", "51") in observed, observed
    assert len(observed) == len(set(observed)), observed  # nothing recorded twice
    assert script.listed == 2  # the relist that found them
    assert script.watched_from[:2] == ["100", "52"]  # resumed from the relist, not from 51
    assert items[-1].rv == "52"


def test_versions_that_are_not_numbers_are_only_compared_for_equality() -> None:
    """The API says clients treat resourceVersions as opaque: versions that are not decimal
    integers are recorded as they come and resumed from, never ordered."""
    script = Script(
        lists=[("zz", [_node(0, "x9", "a")])],
        watches=[[_event("MODIFIED", _node(0, "ab", "b")), _bookmark("aa")]],
    )
    items, _ = _run(script, lambda s: s.watched >= 3)
    assert script.listed == 1
    assert script.watched_from[:3] == ["zz", "aa", "aa"]
    assert ("node-0", "ab") in _observed(items)


def test_a_bookmark_storm_loses_and_repeats_none_of_the_changes_between_its_bookmarks() -> None:
    """20,000 BOOKMARKs on one watch (a real API server sends one a minute or so), a change of
    one of two nodes after every 1,000th. Session 35 tried it (and 200,000 through the spool
    and writer: 202 store writes, one checkpoint each, for 200 changes; docs/security.md):
    each change is recorded once, in order, no relist, and the resume point is the last
    bookmark's version: a bookmark is only a checkpoint, which the spool keeps one of per
    batch."""
    nodes = [_node(0, 10, "a"), _node(1, 10, "a")]
    storm: list[Event] = []
    for version in range(11, 20_011):
        if version % 1000 == 0:
            storm.append(_event("MODIFIED", _node(version % 2, version, f"v{version}")))
        else:
            storm.append(_bookmark(str(version)))
    script = Script(lists=[("10", nodes)], watches=[storm, [_bookmark("20010")]])
    items, _waits = _run(script, lambda s: s.watched >= 2)
    changes = [pair for pair in _observed(items) if pair[1] != "10"]
    assert changes == [(f"node-{v % 2}", str(v)) for v in range(1000, 20_001, 1000)]
    assert script.listed == 1
    assert script.watched_from[:2] == ["10", "20010"]
    assert sum(1 for i in items if i.observation is None) >= 19_980


class ExpiringScript(Script):
    """A first LIST page with a continue token that has expired (410) when asked for, then a
    one-page LIST whose answer is `whole` bytes long, then LISTs answered as `Script`'s."""

    def __init__(self, nodes: list[dict[str, Any]], whole: int) -> None:
        super().__init__(lists=[("20", nodes)], watches=[[_bookmark("20")]])
        self.nodes, self.whole = nodes, whole
        self.asked: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "1":
            return await super().handle(request)
        self.asked.append(dict(request.query))
        if len(self.asked) == 1:
            page = {"kind": "NodeList", "metadata": {"resourceVersion": "20", "continue": "t"}}
            return web.json_response({**page, "items": self.nodes[:1]})
        if len(self.asked) == 2:
            gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
            return web.json_response(gone, status=410)
        if len(self.asked) == 3:
            pad = "x" * self.whole
            return web.json_response({"kind": "NodeList", "metadata": {"x": pad}, "items": []})
        return await super().handle(request)


def test_the_one_page_list_after_an_expired_continue_token_is_bounded_too() -> None:
    """A continue token that has expired: the watch lists again in one page (client-go's
    pager), which session 34 left unbounded. Session 35 bounds it by `max_full_list_bytes`
    (2 GiB: 150,000 Pods, Kubernetes' scalability threshold, at 14 KB each; 1 MiB here): an
    answer past it is refused before it is held, the error naming the setting, and the next
    relist starts paginated again and records each node once. On main the 3 MiB answer was
    read and parsed whole (an empty list: both nodes listed, then both taken as deleted)."""
    nodes = [_node(0, 10, "a"), _node(1, 11, "a")]
    script = ExpiringScript(nodes, whole=3 << 20)
    structlog.reset_defaults()
    try:
        with structlog.testing.capture_logs() as said:
            items, _waits = _run(script, lambda s: s.watched >= 1, max_full_list_bytes=1 << 20)
    finally:
        structlog.reset_defaults()
    errors = [str(e.get("error")) for e in said if e["event"] == "watch restart"]
    assert [("limit" in q, "continue" in q) for q in script.asked] == [
        (True, False),
        (True, True),
        (False, False),  # the one page, refused
        (True, False),  # paginated again
    ]
    assert any("max_full_list_bytes" in e and "LIST /api/v1/nodes" in e for e in errors), errors
    observed = _observed(items)
    assert sorted(observed) == [("node-0", "10"), ("node-1", "11")], observed
