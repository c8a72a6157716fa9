"""kube-proxy on every node, for the one `externalTrafficPolicy: Local` Service.

Every change to a node's local endpoints is programmed its own lag later (never out of order).
After a sync the node forwards the NodePort to
its ready local endpoints, or - with ProxyTerminatingEndpoints (KEP-1669) and no ready one - to
its serving terminating ones. The health-check node port answers from the same sync: 200 iff at
least one READY local endpoint (terminating ones never count) and, from v1.27, kube-proxy healthy
(recorder.sim.proxyhealth: no change received and not programmed for its health timeout), else
503; a down node: no answer. Its `/metrics` (recorder.sim.evidence) read each programming as
the rules sync a real kube-proxy would have run to make it (recorder.sim.syncspans).

Each node's gate is its own process's (recorder.sim.proxyconf: a node pool configured apart, a
configuration rolled out by restarting kube-proxy node by node), and each sync also reads
whether the Service has a usable endpoint anywhere: where none, a NodePort connection is
refused on every node (REJECT, or IPVS's virtual service without a real server), so a change
of that reading is programmed on every node whose answer it changes, its own lag later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gapwatch.recorder.sim import proxyconf
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.proxyhealth import (
    health_timeout_us,
    ignores_never_synced,
    proxier_healthy,
    service_check_reads_health,
)
from gapwatch.recorder.sim.state import Endpoint

#: The iptables proxier's full resync without changes: its runner's maxInterval (time.Hour)
RESYNC_US = 3_600_000_000

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


@dataclass(slots=True)
class ProxyState:
    """What kube-proxy on one node last programmed."""

    forwards_to: tuple[str, ...] = ()
    local_ready: int = 0
    applied_change_us: int = -1
    #: when the last rules sync ended (None: none since this kube-proxy started)
    last_sync_us: int | None = None
    #: when this kube-proxy started (its Go monotonic clock counts from here)
    started_us: int = 0
    #: restarting: the health port refuses, the installed rules keep forwarding, nothing syncs
    restarting: bool = False
    #: when each change this kube-proxy received and has not programmed yet was queued (its
    #: QueuedUpdate() calls; the first is upstream's oldestPendingQueued)
    pending_us: list[int] = field(default_factory=list)
    #: this process's ProxyTerminatingEndpoints gate (recorder.sim.proxyconf)
    pte: bool = False
    #: whether the last sync saw a usable endpoint of the Service anywhere (proxyconf.Anywhere)
    anywhere: proxyconf.Anywhere = (True, True)


class KubeProxies:
    def __init__(self, world: World) -> None:
        self.w = world
        self.nodes: dict[str, ProxyState] = {}
        #: per node, when changes were queued and rules syncs ended, kept after kube-proxy
        #: stops (its lag metrics, recorder.sim.formats `prometheus`)
        self.queued_us: dict[str, list[int]] = {}
        self.synced_us: dict[str, list[int]] = {}
        #: per node, beside each entry of synced_us: how many of queued_us that sync applied
        #: (its view was taken after them; recorder.sim.syncspans reads them as syncs)
        self.applied_n: dict[str, list[int]] = {}
        self.timeout_us = health_timeout_us(world.s.kube_proxy.sync_period_s)
        self.service_check_reads_health = service_check_reads_health(world.s)
        self.ignores_never_synced = ignores_never_synced(world.s)
        #: per node, the gate of its configuration file (a rollout changes it: `reconfigure`)
        self.configured: dict[str, bool] = {}
        #: the Service's usable endpoints anywhere as last published (`published`), and the
        #: lags of the syncs their change alone causes, from a generator of their own so that
        #: every other draw of a run stays what it was
        self.seen_anywhere: proxyconf.Anywhere | None = None
        self.anywhere_rng = random.Random(f"kube-proxy-anywhere-{world.seed}")

    def gate(self, node: str) -> bool:
        """The gate kube-proxy on `node` runs with (its configuration's when not running)."""
        st = self.nodes.get(node)
        if st is not None:
            return st.pte
        return self.configured.get(node, proxyconf.initial_gate(self.w.s.kube_proxy, node))

    def schedule_configs(self) -> None:
        """The configuration rollouts of `kube_proxy.configs` (recorder.sim.proxyconf)."""
        for at_s, node, gate in proxyconf.restarts(self.w.s.kube_proxy):
            self.w.loop.at(us(at_s), self.reconfigure, node, gate)

    def reconfigure(self, node: str, gate: bool) -> None:
        """kube-proxy's configuration on `node` now sets the gate to `gate`: it restarts with
        it (a node whose kube-proxy is not running takes it when it starts)."""
        self.configured[node] = gate
        if node in self.nodes:
            self.restart(node)

    def anywhere_now(self) -> proxyconf.Anywhere:
        return proxyconf.usable_anywhere(self.w.slices.published.values())

    def published(self, changed: list[str]) -> None:
        """The EndpointSlices were published with `changed` nodes' local endpoints changed:
        every other node whose answer the Service's usable endpoints anywhere change
        (proxyconf.has_any under its gate) programs that too, its own lag later."""
        now = self.anywhere_now()
        seen, self.seen_anywhere = self.seen_anywhere, now
        if seen is None or seen == now:
            return
        for node in self.w.sort_nodes(set(self.nodes).difference(changed)):
            gate = self.nodes[node].pte
            if proxyconf.has_any(seen, gate) != proxyconf.has_any(now, gate):
                self.changed(node, rng=self.anywhere_rng)

    def start(self, node: str, *, immediately: bool = False) -> None:
        """kube-proxy comes up on `node` (at bootstrap: already synced)."""
        self.nodes[node] = ProxyState(started_us=self.w.loop.now, pte=self.gate(node))
        self.w.on_proxy_metrics(node, started=True)
        if immediately:
            self.seen_anywhere = self.anywhere_now()
            self._apply(node, self.w.slices.by_node.get(node, {}))
        else:
            self.changed(node, queued=False)

    def stop(self, node: str) -> None:
        self.nodes.pop(node, None)
        self.w.mark(node)
        self.w.on_proxy(node)

    def changed(self, node: str, *, queued: bool = True, rng: random.Random | None = None) -> None:
        """The node's local endpoints changed: this change is programmed a lag from now.

        Each change carries its own lag; a sync applies the endpoints as they were at its change,
        and never goes back to an older change than one already applied. `queued` False: the
        first sync after start, which upstream runs without a QueuedUpdate().
        """
        st = self.nodes.get(node)
        if st is None:
            return
        view = dict(self.w.slices.by_node.get(node, {}))
        anywhere = self.anywhere_now()
        log = self.queued_us.setdefault(node, [])
        log.append(self.w.loop.now)
        self.w.on_proxy_metrics(node)
        if queued and not st.restarting:
            st.pending_us.append(self.w.loop.now)
            if len(st.pending_us) == 1:
                self._watch(node, st)
        lag = self.w.s.kube_proxy.lag_s.sample_us(rng or self.w.rng)
        self.w.loop.after(lag, self._sync, node, view, self.w.loop.now, len(log), anywhere)

    def restart(self, node: str) -> None:
        """kube-proxy restarts on `node`: its health port refuses connections while the rules
        it installed keep forwarding; back up, it syncs the endpoints as they are then."""
        st = self.nodes.get(node)
        if st is None or st.restarting:
            return
        st.restarting = True
        st.started_us = self.w.loop.now  # a new process: its monotonic clock starts again
        st.pending_us = []  # and nothing queued: its first sync lists everything
        self.w.mark(node)
        self.w.loop.after(self.w.s.kube_proxy.restart_s.sample_us(self.w.rng), self._back, node)

    def _back(self, node: str) -> None:
        st = self.nodes.get(node)
        if st is None:
            return
        st.restarting = False
        st.pte = self.configured.get(node, st.pte)  # the configuration it restarted with
        self.w.on_proxy_metrics(node, started=True)
        st.applied_change_us = self.w.loop.now
        st.pending_us = []
        self._apply(node, dict(self.w.slices.by_node.get(node, {})))
        self.w.mark(node)

    def last_sync(self, node: str, now: int) -> int | None:
        """When kube-proxy on `node` last ended a rules sync, as of `now` (None: not since it
        started). Between changes the iptables proxier resyncs only when its BoundedFrequency
        runner's one-hour maxInterval runs out (kubernetes/kubernetes#81517): one then."""
        st = self.nodes.get(node)
        if st is None or st.last_sync_us is None:
            return None
        return now - (now - st.last_sync_us) % RESYNC_US

    def restarting(self, node: str) -> bool:
        st = self.nodes.get(node)
        return st is not None and st.restarting

    def _sync(
        self,
        node: str,
        view: dict[str, Endpoint],
        changed_us: int,
        upto: int,
        anywhere: proxyconf.Anywhere,
    ) -> None:
        st = self.nodes.get(node)
        if st is None or changed_us < st.applied_change_us or st.restarting:
            return
        was = self.proxier_healthy(node)
        oldest = st.pending_us[0] if st.pending_us else None
        st.applied_change_us = changed_us
        # Updated(): every change up to the one this sync programs is done
        st.pending_us = [t for t in st.pending_us if t > changed_us]
        self._apply(node, view, upto, anywhere)
        if st.pending_us and st.pending_us[0] != oldest:
            self._watch(node, st)
        if self.proxier_healthy(node) != was:
            self.w.mark(node)
            self.w.on_proxy(node)

    def _watch(self, node: str, st: ProxyState) -> None:
        """The oldest pending change turns kube-proxy unhealthy at its health timeout: look then."""
        due = st.pending_us[0] + self.timeout_us
        if due > self.w.loop.now:
            self.w.loop.at(due, self._due, node, st.pending_us[0])

    def _due(self, node: str, oldest_us: int) -> None:
        st = self.nodes.get(node)
        if st is None or not st.pending_us or st.pending_us[0] != oldest_us:
            return
        self.w.mark(node)
        self.w.on_proxy(node)

    def _apply(
        self,
        node: str,
        local: dict[str, Endpoint],
        upto: int | None = None,
        anywhere: proxyconf.Anywhere | None = None,
    ) -> None:
        """A rules sync ends now, programming `local` and `anywhere` (None: as published now):
        the view after the first `upto` changes queued on `node` (None: every change queued so
        far)."""
        st = self.nodes[node]
        refused = self.refuses(node)
        st.anywhere = self.anywhere_now() if anywhere is None else anywhere
        ready = tuple(uid for uid, ep in local.items() if ep.ready)
        forwards = ready
        if not ready and st.pte:
            forwards = tuple(uid for uid, ep in local.items() if ep.serving and ep.terminating)
        st.last_sync_us = self.w.loop.now
        self.synced_us.setdefault(node, []).append(self.w.loop.now)
        applied = len(self.queued_us.get(node, ())) if upto is None else upto
        self.applied_n.setdefault(node, []).append(applied)
        self.w.on_proxy_metrics(node)
        if forwards != st.forwards_to or len(ready) != st.local_ready:
            st.forwards_to = forwards
            st.local_ready = len(ready)
            self.w.mark(node)
            self.w.on_proxy(node)
        elif self.refuses(node) != refused:
            self.w.mark(node)

    # -- the truth, per node -------------------------------------------------------------
    def up(self, node: str) -> bool:
        n = self.w.nodes.get(node)
        return n is not None and n.exists and n.up and node in self.nodes

    def rules(self, node: str) -> bool:
        """Does the node forward the NodePort to any local endpoint at all?"""
        st = self.nodes.get(node)
        return st is not None and bool(st.forwards_to)

    def refuses(self, node: str) -> bool:
        """A NodePort connection to `node` that no local pod serves is refused, not dropped
        (recorder.sim.proxyconf `refuses`: rules to a gone pod, no usable endpoint anywhere,
        IPVS without kubernetes#97081)."""
        st = self.nodes.get(node)
        if st is None:
            return False
        kp = self.w.s.kube_proxy
        return proxyconf.refuses(
            forwards=bool(st.forwards_to),
            anywhere=st.anywhere,
            gate=st.pte,
            mode=kp.mode,
            fallback=kp.ipvs_local_fallback,
        )

    def serves(self, node: str) -> bool:
        """F(t): forwarding to at least one local endpoint whose pod still serves."""
        if not self.up(node):
            return False
        pods = self.w.pods_by_uid
        return any(
            (p := pods.get(uid)) is not None and p.serving for uid in self.nodes[node].forwards_to
        )

    def proxier_healthy(self, node: str) -> bool:
        """kube-proxy's own health on `node` now (recorder.sim.proxyhealth)."""
        st = self.nodes.get(node)
        if st is None:
            return True
        return proxier_healthy(
            st.pending_us[0] if st.pending_us else None,
            self.w.loop.now,
            self.timeout_us,
            synced_since_start=st.last_sync_us is not None,
            per_family=self.ignores_never_synced,
        )

    def health(self, node: str) -> int | None:
        """The health-check node port's status code (None: no answer)."""
        if not self.up(node) or self.nodes[node].restarting:
            return None
        if self.service_check_reads_health and not self.proxier_healthy(node):
            return 503
        return 200 if self.nodes[node].local_ready > 0 else 503

    def local_ready(self, node: str) -> int:
        st = self.nodes.get(node)
        return 0 if st is None else st.local_ready
