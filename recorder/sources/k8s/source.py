"""The Kubernetes source: reflector-grade watches of every configured kind into the spool.

`build(context, settings)` (the REGISTRY entry `k8s`) parses its settings and finds the API.
`run(sink, stop)` loads each stream's checkpoint and last recorded state from the store, starts
the Service watcher (always with a LIST, so the default scope knows every Local Service; after a
checkpoint that LIST passes over what changed since, stored as a `RelistGap`) and, once
it is synced, every other watcher, and puts what they yield into the sink: observations, and after
each the checkpoint `(k8s-watch, stream) -> {"resourceVersion": ...}`. It feeds the shared
`ClusterView` with every Service and Node it sees. Ready once every stream has listed or has an
open watch. When `stop` is set it stops its watchers and returns; a watcher that fails
unexpectedly ends `run` with its exception (the recorder, then the pod, restarts).

High availability: run two replicas; both record, and the store's dedupe key makes the same change
(same object, resourceVersion and deletedness) one row whoever wrote it (docs/recorder.md).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog

from gapwatch.recorder.sources.base import Emitted, Sink, SourceContext
from gapwatch.recorder.sources.k8s.client import ApiEndpoint, load_endpoint
from gapwatch.recorder.sources.k8s.config import K8sSettings, parse_settings
from gapwatch.recorder.sources.k8s.metrics import WatchMetrics
from gapwatch.recorder.sources.k8s.resources import RESOURCES, SOURCE
from gapwatch.recorder.sources.k8s.scope import LocalServiceScope
from gapwatch.recorder.sources.k8s.state import Key, LastRow
from gapwatch.recorder.sources.k8s.storeio import load_last, load_resume_times, load_start
from gapwatch.recorder.sources.k8s.watcher import Item, OnObject, ResourceWatcher
from gapwatch.recorder.store import redact
from gapwatch.recorder.tasks import wait_first
from gapwatch.recorder.timefmt import format_time
from gapwatch.recorder.writer import Checkpoint

log = structlog.get_logger("gapwatch.recorder")

#: The kinds the ClusterView is built from (recorder/sources/view.py), and the EndpointSlices
#: where it wants them (`wants_slices`: the prober's NodePort self-check).
VIEW_KINDS = ("Service", "Node")
#: Why a resumed Service stream relists (the `reason` of its RelistGap).
SCOPE_RELIST = "relisted at start: the local-services scope lists every Service"


def build(context: SourceContext, settings: Mapping[str, Any]) -> K8sSource:
    """The REGISTRY entry point: the source from its configuration section."""
    parsed = parse_settings(settings)
    if parsed.api_server:
        api = ApiEndpoint(host=parsed.api_server.rstrip("/"))
    else:
        api = load_endpoint(kubeconfig=parsed.kubeconfig, context=parsed.context)
    return K8sSource(context=context, settings=parsed, api=api)


class K8sSource:
    """See the module docstring."""

    name = "k8s"

    def __init__(self, *, context: SourceContext, settings: K8sSettings, api: ApiEndpoint) -> None:
        self.context, self.settings, self.api = context, settings, api
        self.metrics = WatchMetrics(context.registry)
        self.scope = LocalServiceScope() if settings.scope == "local-services" else None
        self._watching: list[ResourceWatcher] = []
        self._sink: Sink | None = None
        #: Every stream, False until its first LIST is done (streams exist before their watchers).
        self.synced: dict[str, bool] = {
            f"{kind}/{ns}" if ns else kind: False for kind, ns in self._streams(settings.kinds)
        }

    def ready(self) -> str | None:
        open_streams = {w.stream for w in self._watching if w.watching}
        waiting = sorted(s for s, ok in self.synced.items() if not ok and s not in open_streams)
        return "not synced: " + ", ".join(waiting) if waiting else None

    # --- wiring ----------------------------------------------------------------------------
    async def _lookup(
        self, kind: str, namespace: str | None, keys: list[Key]
    ) -> dict[Key, LastRow]:
        assert self._sink is not None
        await self._sink.flush()  # our own rows first, so the diff sees them
        return await asyncio.to_thread(
            load_last,
            self.context.engine,
            cluster=self.context.cluster,
            kind=kind,
            namespace=namespace,
            keys=keys,
        )

    def _scope_generation(self) -> int:
        return self.scope.generation if self.scope is not None else 0

    def _on_object(self, kind: str) -> OnObject:
        def observe(op: str, obj: Mapping[str, Any]) -> None:
            if kind == "Service" and self.scope is not None:
                self.scope.observe(op, obj)
            self.context.view.observe(kind, op, obj)

        return observe

    def _streams(self, kinds: tuple[str, ...] | list[str]) -> list[tuple[str, str | None]]:
        """(kind, namespace or None) of every watch for `kinds`."""
        streams: list[tuple[str, str | None]] = []
        namespaces = self.settings.namespaces
        for kind in kinds:
            namespaced = RESOURCES[kind].namespaced and namespaces
            streams += [(kind, ns) for ns in (namespaces if namespaced else [None])]
        return streams

    async def _watchers(
        self, session: aiohttp.ClientSession, kinds: list[str]
    ) -> list[ResourceWatcher]:
        streams = self._streams(kinds)
        ctx = self.context
        viewed = (*VIEW_KINDS, "EndpointSlice") if ctx.view.wants_slices else VIEW_KINDS
        resume, known, stored = await asyncio.to_thread(
            load_start, ctx.engine, cluster=ctx.cluster, streams=streams, objects_of=viewed
        )
        since = await asyncio.to_thread(
            load_resume_times, ctx.engine, cluster=ctx.cluster, streams=streams
        )
        watchers = []
        for kind, namespace in streams:
            scoped = self.scope is not None and kind != "Service"
            watcher = ResourceWatcher(
                session=session,
                api=self.api,
                resource=RESOURCES[kind],
                cluster=ctx.cluster,
                clock=ctx.clock,
                lookup_last=self._lookup,
                known=known[(kind, namespace)],
                namespace=namespace,
                label_selector=self.settings.label_selectors.get(kind),
                relevant=self.scope.relevant if self.scope is not None else None,
                on_object=self._on_object(kind) if kind in viewed else None,
                scope_generation=self._scope_generation if scoped else None,
                projection=self.settings.projection,
                redact=self.settings.redact_paths,
                settings=self.settings.watch,
                metrics=self.metrics,
                rng=ctx.rng,
            )
            # The Service stream always relists: the scope must know every Service. After a
            # checkpoint that relist passes over what changed since (a RelistGap, as after 410
            # Gone); on a first start (no checkpoint) nothing was recorded to be out of sync with
            if kind != "Service" or self.scope is None:
                watcher.rv = resume.get(watcher.stream)
                watcher.synced_at = since.get(watcher.stream)
            elif resume.get(watcher.stream):
                at = since.get(watcher.stream)
                watcher.relist_from(resume[watcher.stream], at, SCOPE_RELIST)
            if watcher.rv is not None and watcher.on_object is not None:
                # resumed without a relist: the view learns the stored objects here, or the
                # prober and the LB node map of a restarted recorder would see no Node until one
                # changes (the lab's sigkill-all: no probe at all after both replicas died)
                for obj in stored.get((kind, namespace), ()):
                    watcher.on_object("ADDED", obj)
            watchers.append(watcher)
        self._watching += watchers
        return watchers

    async def _pump(self, watcher: ResourceWatcher, sink: Sink) -> None:
        cluster = self.context.cluster
        async for item in watcher:
            self._synced(item)
            checkpoint = None
            if item.rv:
                value = {"resourceVersion": item.rv}
                if item.at is not None:  # the start of a stretch a later relist passes over
                    value["at"] = format_time(item.at)
                checkpoint = Checkpoint(cluster, SOURCE, item.stream, value)
            await sink.put(Emitted(item.observation, checkpoint))

    def _synced(self, item: Item) -> None:
        if item.synced and not self.synced.get(item.stream):
            self.synced[item.stream] = True
            log.info("synced", stream=item.stream, resource_version=item.rv)
            if all(self.synced.values()):
                # The known state of every object is long-lived: keep the cyclic GC from
                # walking it on every full collection (pauses of 100s of ms at 65,000 objects).
                gc.collect()
                gc.freeze()

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Watch until `stop` is set (see the module docstring)."""
        self._sink = sink
        log.info(
            "watching",
            api_server=redact(self.api.host),
            scope=self.settings.scope,
            kinds=list(self.settings.kinds),
            namespaces=list(self.settings.namespaces) or "all",
        )
        pumps: list[asyncio.Task[None]] = []
        stopper = asyncio.create_task(stop.wait())
        try:
            async with aiohttp.ClientSession() as session:
                kinds = list(self.settings.kinds)
                first = ["Service"] if self.scope is not None and "Service" in kinds else []
                for group in (first, [k for k in kinds if k not in first]):
                    if not group or stop.is_set():
                        continue
                    watchers = await self._watchers(session, group)
                    pumps += [
                        asyncio.create_task(self._pump(w, sink), name=w.stream) for w in watchers
                    ]
                    while group is first and not all(self.synced[w.stream] for w in watchers):
                        await wait_first([stopper, *pumps], 0.05)
                        if stop.is_set():
                            break
                if not stop.is_set():
                    await wait_first([stopper, *pumps], None)
        finally:
            stopper.cancel()
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
