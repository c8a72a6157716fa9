"""Layers 1 and 2: the reconnect loop, and list-then-watch with the relist diff.

`ResourceWatcher` is an async iterator of `Item`s for one resource (and namespace):

- layer 1 (`__aiter__`): reconnect forever. A stream the server ends (its timeoutSeconds) reopens
  at once from the last resourceVersion; an error backs off (0.8 s doubling to 30 s, jitter, as
  client-go); 410 Gone forgets the resourceVersion, so the next round relists: at once after
  anything but a 410, with the same backoff when 410s come in a row (a watch that answers 410
  right after each LIST: without it, 111 full LISTs a second against the API server).
- layer 2 (`_list_then_watch`): without a resourceVersion, a paginated LIST whose items are diffed
  against what was recorded (ADDED for new objects, MODIFIED for changed ones, DELETED - with the
  last stored object and its resourceVersion - for those that vanished); then a WATCH from the
  list's resourceVersion with bookmarks, a random server timeout and a client read timeout.

Every item carries the resourceVersion that the checkpoint may advance to once the item (and all
before it) is committed, and the clock reading it was in sync at; no-op updates advance it
without an observation. The clock is read once per event, or once per LIST page. A relist after
410 Gone also yields the stretch it passed over (recorder/sources/k8s/relist_gap.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import structlog

from gapwatch.recorder.backoff import BackoffSettings, delay
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.client import ApiEndpoint
from gapwatch.recorder.sources.k8s.errors import Gone, K8sError, StreamStalled
from gapwatch.recorder.sources.k8s.metrics import WatchMetrics
from gapwatch.recorder.sources.k8s.noop import Projection, project
from gapwatch.recorder.sources.k8s.relist_gap import Lost, passed_over
from gapwatch.recorder.sources.k8s.resources import (
    Resource,
    object_key,
    resource_version,
    to_observation,
)
from gapwatch.recorder.sources.k8s.state import (
    Key,
    Known,
    LastRow,
    apply_event,
    diff_listed,
    older,
)
from gapwatch.recorder.sources.k8s.stream import (
    MAX_FULL_LIST_BODY,
    MAX_LIST_BODY,
    list_page,
    watch_stream,
)

log = structlog.get_logger("gapwatch.recorder")

Lookup = Callable[[str, str | None, list[Key]], Awaitable[dict[Key, LastRow]]]
Relevant = Callable[[str, Mapping[str, Any]], bool]
OnObject = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class WatchSettings:
    page_size: int = 500
    server_timeout_s: tuple[int, int] = (300, 600)
    read_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    list_timeout_s: float = 120.0
    #: the longest answer of one LIST page (stream.MAX_LIST_BODY, 64 MiB)
    max_list_bytes: int = MAX_LIST_BODY
    #: the longest answer of the one-page LIST after an expired continue token
    #: (stream.MAX_FULL_LIST_BODY, 2 GiB)
    max_full_list_bytes: int = MAX_FULL_LIST_BODY
    backoff: BackoffSettings = field(default_factory=BackoffSettings)


@dataclass(frozen=True, slots=True)
class Item:
    """One thing for the writer: an observation and/or a checkpoint for `stream`."""

    stream: str
    observation: Observation | None
    rv: str | None
    synced: bool = False
    #: the clock reading at which the stream was in sync up to `rv`
    at: datetime | None = None


class ResourceWatcher:
    """See the module docstring."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api: ApiEndpoint,
        resource: Resource,
        cluster: str,
        clock: Callable[[], datetime],
        lookup_last: Lookup,
        known: Known | None = None,
        start_rv: str | None = None,
        start_at: datetime | None = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        relevant: Relevant | None = None,
        on_object: OnObject | None = None,
        scope_generation: Callable[[], int] | None = None,
        projection: Projection = "trim",
        redact: tuple[str, ...] = (),
        settings: WatchSettings | None = None,
        metrics: WatchMetrics | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session, self.api, self.resource = session, api, resource
        self.cluster, self.clock, self.lookup_last = cluster, clock, lookup_last
        self.known: Known = known if known is not None else {}
        self.rv = start_rv or None
        #: when the stream was last known in sync up to `rv` (its last event or bookmark)
        self.synced_at = start_at
        #: a 410 Gone not yet relisted: (the lost resourceVersion, when in sync, why)
        self._lost: Lost | None = None
        self.namespace, self.label_selector = namespace, label_selector
        self.relevant, self.projection, self.redact = relevant, projection, redact
        self.on_object = on_object
        self.scope_generation = scope_generation
        self._judged_generation = scope_generation() if scope_generation is not None else 0
        self.settings = settings or WatchSettings()
        self.metrics = metrics or WatchMetrics()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.stream = resource.kind + (f"/{namespace}" if namespace else "")
        #: A watch stream is open (or was): with `synced` items, what readiness means.
        self.watching = False
        self.path = resource.path(namespace)

    def relist_from(self, rv: str, at: datetime | None, reason: str) -> None:
        """List first although a resume point `rv` (in sync at `at`) exists: the stream is out
        of sync since then, and the relist passes over that stretch like one after 410 Gone (a
        `RelistGap`, unless nothing was written since `rv`)."""
        self.rv, self.synced_at = None, at
        self._lost = (rv, at, reason)

    def _restart(self, reason: str, error: Exception | None = None) -> None:
        self.metrics.watch_restarts.labels(kind=self.resource.kind, reason=reason).inc()
        if error is not None:
            log.warning("watch restart", stream=self.stream, reason=reason, error=str(error))

    async def __aiter__(self) -> AsyncIterator[Item]:
        failures = gone_in_a_row = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            gone = False
            try:
                async for item in self._list_then_watch():
                    yield item
                self._restart("timeout" if self.rv is not None else "scope")
                failures = gone_in_a_row = 0
                continue
            except Gone as exc:
                if self._lost is None and self.rv is not None:
                    self._lost = (self.rv, self.synced_at, str(exc))
                self.rv = None
                self._restart("gone", exc)
                gone = True
            except StreamStalled as exc:
                self._restart("stalled", exc)
            except K8sError as exc:
                self._restart("error", exc)
            if loop.time() - started > self.settings.backoff.reset_after_s:
                failures = gone_in_a_row = 0
            failures += 1
            gone_in_a_row = gone_in_a_row + 1 if gone else 0
            if gone_in_a_row == 1:
                continue  # a first 410 (a compaction, an API server back): relist at once
            await self.sleep(delay(failures, self.settings.backoff, self.rng))

    def _observation(self, op: str, obj: Mapping[str, Any], now: datetime) -> Observation:
        return to_observation(
            cluster=self.cluster,
            kind=self.resource.kind,
            op=op,
            obj=project(obj, self.projection, self.redact),
            observed_at=now,
        )

    def _wanted(self, obj: Mapping[str, Any]) -> bool:
        if self.relevant is None or object_key(obj) in self.known:
            return True
        return self.relevant(self.resource.kind, obj)

    def _params(self) -> dict[str, str]:
        return {"labelSelector": self.label_selector} if self.label_selector else {}

    async def _list_then_watch(self) -> AsyncIterator[Item]:
        if self.rv is None:
            async for item in self._relist():
                yield item
        low, high = self.settings.server_timeout_s
        params = {
            **self._params(),
            "resourceVersion": self.rv or "",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.rng.randint(low, high)),
        }
        kind = self.resource.kind
        first = True
        ordered = bool(self.rv)  # a watch from a version: its events come in version order
        async for event in watch_stream(
            self.session,
            self.api,
            self.path,
            params,
            connect_timeout=self.settings.connect_timeout_s,
            read_timeout=self.settings.read_timeout_s,
            on_open=self._opened,
        ):
            if self._scope_widened():
                self.rv = None  # relist: objects passed over may be in scope now
                return
            now = self.clock()
            self.metrics.seen(kind)
            op, obj = event.get("type"), event["object"]
            rv = resource_version(obj)
            if ordered and rv and self.rv and older(rv, self.rv):
                # An API server restored from an etcd backup counts again from an older version:
                # every change it sends until it passes the old count looks already recorded
                # (apply_event), and resuming from it would be wrong. The relist diff finds them.
                raise Gone(f"WATCH {self.path}: resourceVersion went back from {self.rv} to {rv}")
            if op == "BOOKMARK":
                self.rv, self.synced_at = rv or self.rv, now
                yield Item(self.stream, None, self.rv, synced=first, at=now)
            elif op in ("ADDED", "MODIFIED", "DELETED"):
                self.rv, self.synced_at = rv or self.rv, now
                if self.on_object is not None:
                    self.on_object(op, obj)
                if not self._wanted(obj):
                    yield Item(self.stream, None, self.rv, synced=first, at=now)
                elif apply_event(self.known, kind, op, obj):
                    obs = self._observation(op, obj, now)
                    yield Item(self.stream, obs, self.rv, first, at=now)
                else:
                    self.metrics.noop_dropped.labels(kind=kind).inc()
                    yield Item(self.stream, None, self.rv, synced=first, at=now)
            first = False
        if self.rv is not None:
            self.synced_at = self.clock()  # the server ended the stream: in sync until now

    def _opened(self) -> None:
        self.watching = True

    def _scope_widened(self) -> bool:
        if self.scope_generation is None:
            return False
        return self.scope_generation() != self._judged_generation

    async def _relist(self) -> AsyncIterator[Item]:
        """A paginated LIST diffed against `known`; ends with the list's resourceVersion."""
        kind = self.resource.kind
        if self.scope_generation is not None:
            self._judged_generation = self.scope_generation()
        self.metrics.relists.labels(kind=kind).inc()
        paginate = True
        while True:
            seen: set[Key] = set()
            moved: set[Key] = set()  # objects whose resourceVersion moved: what a gap may hide
            list_rv: str | None = None
            token: str | None = None
            try:
                while True:
                    params = self._params()
                    if paginate:
                        params["limit"] = str(self.settings.page_size)
                    if token:
                        params["continue"] = token
                    page = await list_page(
                        self.session,
                        self.api,
                        self.path,
                        params,
                        timeout=self.settings.list_timeout_s,
                        # the one-page LIST holds the whole collection, as client-go's pager
                        # reads it: bounded far above a page (stream.MAX_FULL_LIST_BODY)
                        max_bytes=(
                            self.settings.max_list_bytes
                            if paginate
                            else self.settings.max_full_list_bytes
                        ),
                        whole=not paginate,
                    )
                    now = self.clock()
                    meta = page.get("metadata") or {}
                    list_rv = list_rv or str(meta.get("resourceVersion") or "")
                    for obj in page["items"]:
                        seen.add(object_key(obj))
                        if self.on_object is not None:
                            self.on_object("ADDED", obj)
                        if not self._wanted(obj):
                            continue
                        before = self.known.get(object_key(obj))
                        if before is None or before.rv != resource_version(obj):
                            moved.add(object_key(obj))
                        op = diff_listed(self.known, kind, obj)
                        if op is not None:
                            yield Item(self.stream, self._observation(op, obj, now), None)
                    token = meta.get("continue") or None
                    if not token:
                        break
            except Gone:
                # The continue token expired mid-list: like client-go, list again in one page.
                self.metrics.relists.labels(kind=kind).inc()
                paginate = False
                continue
            break
        moved |= set(self.known) - seen
        async for item in self._vanished(seen):
            yield item
        self.rv = list_rv or None
        self.metrics.seen(kind)
        self.synced_at = now = self.clock()
        lost, self._lost = self._lost, None
        gap = passed_over(lost, self.cluster, kind, self.namespace, now, self.rv or "", moved)
        if gap is not None:
            log.warning("relist passed over", stream=self.stream, since=lost and lost[1], until=now)
            yield Item(self.stream, gap, None)
        yield Item(self.stream, None, self.rv, synced=True, at=now)

    async def _vanished(self, seen: set[Key]) -> AsyncIterator[Item]:
        gone = sorted(set(self.known) - seen)
        if not gone:
            return
        last = await self.lookup_last(self.resource.kind, self.namespace, gone)
        now = self.clock()
        for key in gone:
            version = self.known.pop(key)
            meta = {"name": key[1], "resourceVersion": version.rv}
            if key[0]:
                meta["namespace"] = key[0]
            if self.on_object is not None:
                self.on_object("DELETED", {"metadata": meta})
            row = last.get(key)
            if row is not None and row.op == "DELETED":
                continue  # already recorded (by another replica)
            if row is None:  # not stored: the deletion is still recorded, with a stub
                row = LastRow("MODIFIED", version.rv, {"metadata": meta})
            obs = to_observation(
                cluster=self.cluster,
                kind=self.resource.kind,
                op="DELETED",
                obj=row.payload,
                observed_at=now,
            )
            if row.rv is not None and obs.resource_version != row.rv:
                obs = _with_rv(obs, row.rv)
            yield Item(self.stream, obs, None)


def _with_rv(obs: Observation, rv: str) -> Observation:
    from dataclasses import replace

    return replace(obs, resource_version=rv)
