"""The kube-proxy prober as a recorder Source (config key `kube-proxy`), and `build`.

One task per target, each on its own fixed period (`schedule`), all sharing one ProbeClient and
one semaphore (bounded concurrency). The targets follow the ClusterView: when it changes, new
targets start and vanished ones stop. Each look reads the injected clock at its start and again
at its end (never earlier than the start): the bounds of a transition are the clock's own, also
when the clock does not run at the monotonic clock's rate. Before, the end was the start plus the
measured latency: under the lab's 10x clock a look that hung until a fake kube-proxy answered
again was stamped its wall latency after its start, not ten times that, up to 7 s (simulated)
before the answer it recorded (the lab's `probe-timeout` lost 1-2 returns to 200 per run).
Every tracked look goes with its target's checkpoint under a guard (recorder/writer.py, `Guard`):
a change is stored only if the stored checkpoint is still the one it was made from (the newer of
what this prober read from the store and what it stored itself), a first look only if none is
stored; heartbeats and resumes cannot race (`check=False`: their checkpoint replaces only an
older one, and they are stamped when their look began, tracker.stamp), but for one that repeats
a change this prober put and has not yet heard stored (`Guard.on_stored`): guarded by that
change's checkpoint, it is dropped with it. The writer may drop the change when the batch is
written, after the next look; before, that heartbeat was stored, a state no change stored, and
where it committed first its checkpoint replaced the one the other replica's change was made
from, so the change was stored only as a heartbeat (tests/kubeproxy/test_dropped_first_look.py).
A change the other replica stored first is dropped by the writer, which says so; the next look of
that target re-reads the stored state (`TransitionTracker.restore`) and compares with it. A target
the view drops is stopped, and its last look stored if it was not (`look: "last"`, a heartbeat's
guard: `TransitionTracker.forget`); so is every target's when the prober stops gracefully (SIGTERM,
Ctrl-C, `probe --duration`): a restarted prober's first look is then bounded by the stopped one's
last, not by its last stored change or heartbeat, up to `heartbeat_s` earlier.
Observations go to the sink; `on_observation` (the `probe` command's --json) sees every one
that is a first look or a change.
Every ProxyHealth and NodePortProbe look also feeds the NodePort self-check (selfcheck.py,
`nodeport_selfcheck`): once it decides that the NodePort looks are short-circuited (answered by
the cluster-wide chain, not by what the node does for the LB), the prober stores one
NodePortSelfCheck observation, says so once in the log and in
`gapwatch_probe_nodeport_short_circuited`, and stops every NodePort look of the cluster (each
target's last look stored as for any target it stops): replay reads none of them
(docs/kubeproxy.md, "The self-check").
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from gapwatch.recorder.errors import SourceError, StoreError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted, Sink, SourceContext
from gapwatch.recorder.sources.kubeproxy import payloads, schedule
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.configlooks import KIND as CONFIG
from gapwatch.recorder.sources.kubeproxy.configlooks import (
    ConfigLooks,
    load_stored,
    state_of,
    why_not,
)
from gapwatch.recorder.sources.kubeproxy.configz import MAX_CONFIGZ_BYTES
from gapwatch.recorder.sources.kubeproxy.laststate import (
    checkpoint_of,
    load_last,
    load_one,
    value_of,
)
from gapwatch.recorder.sources.kubeproxy.metrics import MAX_METRICS_BYTES
from gapwatch.recorder.sources.kubeproxy.selfcheck import SelfCheck, verdict_observation
from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings, parse_settings
from gapwatch.recorder.sources.kubeproxy.targets import Target, metrics_targets, plan
from gapwatch.recorder.sources.kubeproxy.tracker import (
    LAST,
    SOURCE,
    Look,
    TargetKey,
    TransitionTracker,
)
from gapwatch.recorder.sources.unheard import Unheard
from gapwatch.recorder.timefmt import format_time
from gapwatch.recorder.writer import Guard

log = structlog.get_logger("gapwatch.recorder.kubeproxy")

#: What a look that got no answer at all says (http/metrics `error`, connect `result`).
TIMED_OUT = "timeout"

OnObservation = Callable[[Observation], None]


class KubeProxyProber:
    """See the module docstring."""

    def __init__(
        self,
        context: SourceContext,
        settings: ProberSettings,
        *,
        name: str = "kube-proxy",
        on_observation: OnObservation | None = None,
    ) -> None:
        self.name = name
        self.context = context
        self.settings = settings
        self.on_observation = on_observation
        self.tracker = TransitionTracker(cluster=context.cluster, heartbeat_s=settings.heartbeat_s)
        self._tasks: dict[Target, asyncio.Task[None]] = {}
        self._started = False
        #: a look that raised (a bug, never a network failure): run() raises it to the recorder
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        #: per target, the newest checkpoint known stored (read, or put by this prober): the
        #: base of its next change, and when it was observed
        self._bases: dict[TargetKey, tuple[datetime, Any]] = {}
        #: targets whose change the writer dropped (set from the writer's thread)
        self._superseded: set[TargetKey] = set()
        #: the checkpoints this prober put under a checked guard and has not yet heard stored:
        #: a repeat of one is guarded by it (`_guard`)
        self._unheard: Unheard[TargetKey] = Unheard()
        self.looks = 0
        #: a health-check look got an answer (logged once: `kube-proxy first look`)
        self._first_health = False
        #: until some look gets an answer: the targets whose looks all timed out (every target
        #: silent from the start is a network path that drops the prober's packets, e.g. an
        #: egress policy narrowed to the wrong node CIDR: said once, see `_silent_from_start`)
        self._answered = False
        self._silent: set[TargetKey] = set()
        #: only `nodeport: always` looks at both ports of a Service: nothing to check else
        self.selfcheck = (
            SelfCheck(settle_s=settings.nodeport_selfcheck_settle_s)
            if settings.nodeport_selfcheck and settings.nodeport == "always"
            else None
        )
        if self.selfcheck is not None:
            context.view.wants_slices = True  # the check reads what the slices list per node
        #: the self-check's observation, waiting to be stored
        self._verdicts: list[Observation] = []
        #: set when the targets must be planned again without the view changing
        self._replan = asyncio.Event()
        #: /configz looks (configlooks.py): stored on change; the nodes looked at no more
        self._configs = ConfigLooks(cluster=context.cluster)
        self._configz_off: set[TargetKey] = set()
        self._looks_total = Counter(
            "gapwatch_probe_looks",
            "Looks by the kube-proxy prober, by kind and outcome.",
            ["kind", "outcome"],
            registry=context.registry,
        )
        self._stored_total = Counter(
            "gapwatch_probe_stored",
            "Observations the kube-proxy prober stored, by kind and why "
            "(first/change/heartbeat/resume/last).",
            ["kind", "look"],
            registry=context.registry,
        )
        self._proofs_total = Counter(
            "gapwatch_probe_nodeport_short_circuit_proofs",
            "NodePort looks answered connected at a node whose health check counted no ready "
            "local endpoint before and after, its EndpointSlices listing none (selfcheck.py).",
            registry=context.registry,
        )
        self._short_circuited = Gauge(
            "gapwatch_probe_nodeport_short_circuited",
            "1 once the self-check decided this prober's NodePort looks are answered by the "
            "cluster-wide chain (its NodePort looks stopped), else 0.",
            registry=context.registry,
        )

    def ready(self) -> str | None:
        return None if self._started else "kube-proxy prober: loading the last stored state"

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        now = self.context.clock()
        last = await asyncio.to_thread(
            load_last,
            self.context.engine,
            cluster=self.context.cluster,
            now=now,
            heartbeat_s=self.settings.heartbeat_s,
        )
        for key, (payload, observed_at) in last.items():
            self.tracker.seed(key, payload, observed_at)
            self._bases[key] = (observed_at, value_of(payload, observed_at))
        limit = asyncio.Semaphore(self.settings.concurrency)
        async with ProbeClient(
            timeout_s=self.settings.timeout_s, concurrency=self.settings.concurrency
        ) as client:
            self._started = True
            try:
                while not stop.is_set() and self._failure is None:
                    for key, final in self._reconcile(client, sink, limit):
                        await self._put_last(sink, key, final)
                    waits = {
                        asyncio.ensure_future(self.context.view.changed()),
                        asyncio.ensure_future(stop.wait()),
                        asyncio.ensure_future(self._failed.wait()),
                        asyncio.ensure_future(self._replan.wait()),
                    }
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for fut in waits:
                        fut.cancel()
                    self._replan.clear()
                if self._failure is not None:
                    raise SourceError(f"kube-proxy prober: {self._failure!r}") from self._failure
            finally:
                probed = sorted(self._tasks)
                await self._cancel(probed)
        if stop.is_set():  # a graceful stop: what each target answered until the prober left
            for target in probed:
                unstored = self.tracker.forget(target.key)
                if unstored is not None:
                    await self._put_last(sink, target.key, unstored)
        await sink.flush()

    def _wanted(self) -> list[Target]:
        view = self.context.view
        planned = plan(view.local_services(), view.nodes(), self.settings)
        if self.selfcheck is not None and self.selfcheck.decided is not None:
            planned = [t for t in planned if t.key.kind != "NodePortProbe"]
        scraped = metrics_targets(view.nodes(), self.settings)
        return planned + [t for t in scraped if t.key not in self._configz_off]

    def _reconcile(
        self, client: ProbeClient, sink: Sink, limit: asyncio.Semaphore
    ) -> list[tuple[TargetKey, Observation]]:
        """Start the targets the view adds, stop those it dropped: the last looks of the
        stopped ones that were not stored (TransitionTracker.forget), to store."""
        wanted = set(self._wanted())
        if self.selfcheck is not None:
            self.selfcheck.keep_only(
                {(f"{t.key.namespace}/{t.key.name}", t.key.node) for t in wanted}
            )
        gone = [t for t in self._tasks if t not in wanted]
        lasts: list[tuple[TargetKey, Observation]] = []
        for target in sorted(gone):
            self._tasks.pop(target).cancel()
            last = self.tracker.forget(target.key)
            if last is not None:
                lasts.append((target.key, last))
        origin = asyncio.get_running_loop().time()
        for target in sorted(wanted - set(self._tasks)):
            if target.key.kind == "ProxyMetrics":
                interval = self.settings.metrics_interval_s
            elif target.key.kind == CONFIG:
                interval = self.settings.configz_interval_s
            else:
                interval = self.settings.interval_s
            offset = schedule.phase(self.context.rng, interval, self.settings.jitter)
            self._tasks[target] = asyncio.create_task(
                self._every(client, sink, limit, target, interval, origin + offset),
                name=f"probe {target.key}",
            )
            self._tasks[target].add_done_callback(self._task_done)
        return lasts

    async def _put_last(self, sink: Sink, key: TargetKey, observation: Observation) -> None:
        """A target's last look, stored as it stops being probed (its task is cancelled: a look
        in flight then is never finished, so the last look is the last one that answered)."""
        self._stored_total.labels(key.kind, LAST).inc()
        await self.put(sink, key, observation)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
            self._failed.set()

    async def _cancel(self, targets: list[Target]) -> None:
        tasks = [self._tasks.pop(t) for t in targets]
        for task in tasks:
            task.cancel()
        # a task that failed has been reported through _task_done already
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(
        self,
        client: ProbeClient,
        sink: Sink,
        limit: asyncio.Semaphore,
        target: Target,
        interval: float,
        due: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            async with limit:
                observation = await self.look(client, target)
            if observation is not None:
                await self.put(sink, target.key, observation)
            while self._verdicts:
                await sink.put(Emitted(self._verdicts.pop(0)))
            due = schedule.next_due(due, interval, loop.time())

    async def put(self, sink: Sink, key: TargetKey, observation: Observation) -> None:
        """Put a look's observation; a tracked one carries its target's last state (laststate.py:
        a restart, however late, compares with it), under its guard."""
        if key.kind == "ProxyMetrics":
            await sink.put(Emitted(observation))
            return
        if key.kind == CONFIG:  # no race to guard: two replicas store the same configuration
            await sink.put(Emitted(observation, self._configs.checkpoint(observation)))
            return
        self._unheard.settle()
        checkpoint = checkpoint_of(key, observation)
        guard = self._guard(key, observation, checkpoint.value)
        self._bases[key] = (observation.observed_at, checkpoint.value)
        if guard.check:
            self._unheard.put(key, checkpoint.value)
        await sink.put(Emitted(observation, checkpoint, guard))

    def _guard(self, key: TargetKey, observation: Observation, value: Any) -> Guard:
        """A change (or a first look at a target probed before and forgotten) is made from the
        newest checkpoint known stored; a first look from none; a heartbeat, a resume or a last
        look cannot race (module docstring), unless it repeats a change this prober put and has
        not yet heard stored: then it is guarded by that change's checkpoint, and dropped with
        it (the writer may have dropped the change, and the state is then not the store's)."""
        if observation.payload.get("look") in ("first", "change"):
            known = self._bases.get(key)
            base = None if known is None else known[1]
        else:
            unheard, base = self._unheard.base(key)
            if not unheard:
                return Guard(check=False)
        return Guard(
            base=base,
            on_superseded=lambda: self._superseded.add(key),
            on_stored=self._unheard.stored(key, value),
        )

    async def _restore(self, key: TargetKey) -> None:
        """This prober's change of `key` was dropped: compare the next look with the stored
        state. A store that cannot be read changes nothing (the next change is dropped again
        if it was stored, and this runs again)."""
        self._superseded.discard(key)
        try:
            last = await asyncio.to_thread(
                load_one, self.context.engine, cluster=self.context.cluster, key=key
            )
        except StoreError:
            return
        self._unheard.forget(key)
        if last is not None:
            self.tracker.restore(key, *last)
            self._bases[key] = (last[1], value_of(*last))

    async def look(self, client: ProbeClient, target: Target) -> Observation | None:
        """One look at `target`: the observation to store, if any."""
        started = self.context.clock()
        payload: dict[str, Any]
        if target.key.kind == "ProxyMetrics":
            raw = await client.fetch(target.url, MAX_METRICS_BYTES)
            payload = payloads.metrics_payload(target, raw, MAX_METRICS_BYTES)
        elif target.key.kind == CONFIG:
            payload = payloads.configz_payload(
                target, await client.fetch(target.url, MAX_CONFIGZ_BYTES)
            )
        elif target.how == "tcp":
            payload = payloads.connect_payload(
                target, await client.connect(target.address, target.port)
            )
        else:
            payload = payloads.http_payload(target, await client.get(target.url))
        finished = max(started, self.context.clock())
        self.looks += 1
        if self.selfcheck is not None and target.key.kind in ("ProxyHealth", "NodePortProbe"):
            self._check(target, started, finished, payload)
        outcome = payload.get("result") or payload.get("error") or str(payload.get("status"))
        self._looks_total.labels(target.key.kind, str(outcome)).inc()
        if not self._first_health and target.key.kind == "ProxyHealth" and outcome != TIMED_OUT:
            # before it this process saw no health check's state (a timeout shows none): the
            # lab's ledger counts what ended earlier as unobservable (recorder/lab/run.py)
            self._first_health = True
            log.info(
                "kube-proxy first look",
                observed_at=format_time(finished),
                node=target.key.node,
                outcome=str(outcome),
            )
        if not self._answered:
            self._silent_from_start(target.key, timed_out=outcome == TIMED_OUT)
        observation: Observation | None
        if target.key.kind == CONFIG:
            observation = await self._config_look(target, started, finished, payload)
        elif target.key.kind == "ProxyMetrics":
            observation = Observation(
                observed_at=finished,
                cluster=self.context.cluster,
                source=SOURCE,
                kind="ProxyMetrics",
                op="OBSERVED",
                payload=payload,
                node=target.key.node,
            )
        else:
            seen = Look(target.key, started, finished, payload)
            if target.key in self._superseded:
                await self._restore(target.key)
            if self.tracker.differs(seen):  # the other replica may have stored it already
                await self._adopt_stored(seen)
            observation = self.tracker.see(seen)
        if observation is None:
            return None
        why = str(observation.payload.get("look"))
        self._stored_total.labels(target.key.kind, why).inc()
        if self.on_observation is not None and why in ("first", "change"):
            self.on_observation(observation)
        return observation

    async def _config_look(
        self, target: Target, started: datetime, finished: datetime, payload: dict[str, Any]
    ) -> Observation | None:
        """A /configz look: a ProxyConfig observation when the configuration changed (or is
        the first this store holds for the node); a node whose /configz never answered with one
        is looked at no more, said once (configlooks.py)."""
        node = target.key.node
        if not self._configs.loaded(node) and state_of(payload) is not None:
            try:
                stored = await asyncio.to_thread(
                    load_stored, self.context.engine, cluster=self.context.cluster, node=node
                )
            except StoreError:
                stored = None  # compared with nothing: stored again, which is harmless
            self._configs.seed(node, stored)
        observation, stop = self._configs.see(node, started, finished, payload)
        if stop:
            self._configz_off.add(target.key)
            self._replan.set()
            if len(self._configz_off) == 1:
                log.warning(
                    "kube-proxy /configz not readable: its configuration is not recorded",
                    url=target.url,
                    node=node,
                    got=why_not(payload),
                    hint=(
                        "kube-proxy serves /configz on its metrics address, 127.0.0.1:10249 by "
                        "default: reachable from the node-local agent (hostNetwork), not from "
                        "a central prober; turn configz_interval_s off where it cannot be read "
                        "(docs/kubeproxy.md)"
                    ),
                )
        return observation

    def _check(
        self, target: Target, started: datetime, finished: datetime, payload: dict[str, Any]
    ) -> None:
        """Feed the self-check one look; when it decides, queue its observation, say so and
        plan the targets again (without the NodePort looks)."""
        check, key = self.selfcheck, target.key
        assert check is not None
        pair = (f"{key.namespace}/{key.name}", key.node)
        listed = self.context.view.listed_endpoints(pair[0], key.node)
        if key.kind == "NodePortProbe":
            check.nodeport(pair, started, finished, str(payload.get("result")), listed)
            return
        before = check.proofs
        proofs = check.health(pair, started, finished, payload, listed)
        if check.proofs > before:
            self._proofs_total.inc(check.proofs - before)
        if proofs is None:
            return
        ports = [
            t.port
            for t in self._tasks
            if t.key == TargetKey("NodePortProbe", key.node, key.namespace, key.name)
        ]
        self._verdicts.append(
            verdict_observation(
                self.context.cluster, target, ports[0] if ports else None, proofs, finished
            )
        )
        self._short_circuited.set(1)
        log.warning(
            "kube-proxy prober: NodePort looks are answered by the cluster-wide chain, not as "
            "the LB's traffic is; NodePort looks stopped, replay reads none of them",
            service=pair[0],
            node=key.node,
            proofs=len(proofs),
            hint=(
                "kube-proxy sends pod (--detect-local-mode) and node-local traffic of an "
                "externalTrafficPolicy: Local Service to every endpoint: probe NodePorts only "
                "from outside the cluster (docs/kubeproxy.md, 'The self-check')"
            ),
        )
        self._replan.set()

    def _silent_from_start(self, key: TargetKey, *, timed_out: bool) -> None:
        """Warn once when every target probed has timed out and none ever answered: nothing
        in the stored looks tells a dropped path from nodes that are all down, and a wrong
        egress rule (deploy/README.md, "Egress") looks exactly like this."""
        if not timed_out:
            self._answered = True
            self._silent.clear()
            return
        self._silent.add(key)
        if len(self._silent) < len(self._tasks):
            return
        nodes = sorted({k.node for k in self._silent if k.node})
        log.warning(
            "kube-proxy prober: every look has timed out since the start, none answered",
            targets=len(self._silent),
            nodes=len(nodes),
            timeout_s=self.settings.timeout_s,
            hint=(
                "the prober's packets to the nodes are dropped, or every node is down: check "
                "its network path (a NetworkPolicy's egress to the nodes' CIDR, deploy/README.md "
                "'Egress'; security groups, host firewalls)"
            ),
        )
        self._answered = True  # said once; the stored looks carry each timeout

    async def _adopt_stored(self, look: Look) -> None:
        """Before a change becomes an observation: the target's stored last state, if another
        replica stored a newer one before this look's answer (laststate.load_one: one key
        lookup; changes are rare). A store that cannot be read changes nothing."""
        try:
            last = await asyncio.to_thread(
                load_one, self.context.engine, cluster=self.context.cluster, key=look.key
            )
        except StoreError:
            return
        if last is not None and last[1] <= look.finished_at:
            self.tracker.adopt(look.key, *last)
            known = self._bases.get(look.key)
            if known is None or known[0] < last[1]:  # the base of the change about to be made
                self._bases[look.key] = (last[1], value_of(*last))
                self._unheard.forget(look.key)


#: Set from the downward API (spec.nodeName) in the node-local agent: probe only this node.
NODE_ENV = "GAPWATCH_PROBE_NODE"


def build(
    context: SourceContext, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> KubeProxyProber:
    """The REGISTRY entry point: a prober from the `kube-proxy:` configuration section;
    GAPWATCH_PROBE_NODE in the environment sets `only_node`."""
    values = dict(settings)
    node = (os.environ if env is None else env).get(NODE_ENV)
    if node:
        values["only_node"] = node
    return KubeProxyProber(context, parse_settings(values))
