"""kube-proxy on every node, for the one `externalTrafficPolicy: Local` Service.

Every change to a node's local endpoints is programmed its own lag later (never out of order).
After a sync the node forwards the NodePort to
its ready local endpoints, or - with ProxyTerminatingEndpoints (KEP-1669) and no ready one - to
its serving terminating ones. The health-check node port answers from the same sync: 200 iff at
least one READY local endpoint (terminating ones never count) and, from v1.27, kube-proxy healthy
(recorder.sim.proxyhealth: no change received and not programmed for its health timeout), else
503; a down node: no answer. Its `/metrics` (recorder.sim.evidence) read each programming as
the rules sync a real kube-proxy would have run to make it (recorder.sim.syncspans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

    def start(self, node: str, *, immediately: bool = False) -> None:
        """kube-proxy comes up on `node` (at bootstrap: already synced)."""
        self.nodes[node] = ProxyState(started_us=self.w.loop.now)
        self.w.on_proxy_metrics(node, started=True)
        if immediately:
            self._apply(node, self.w.slices.by_node.get(node, {}))
        else:
            self.changed(node, queued=False)

    def stop(self, node: str) -> None:
        self.nodes.pop(node, None)
        self.w.mark(node)
        self.w.on_proxy(node)

    def changed(self, node: str, *, queued: bool = True) -> None:
        """The node's local endpoints changed: this change is programmed a lag from now.

        Each change carries its own lag; a sync applies the endpoints as they were at its change,
        and never goes back to an older change than one already applied. `queued` False: the
        first sync after start, which upstream runs without a QueuedUpdate().
        """
        st = self.nodes.get(node)
        if st is None:
            return
        view = dict(self.w.slices.by_node.get(node, {}))
        log = self.queued_us.setdefault(node, [])
        log.append(self.w.loop.now)
        self.w.on_proxy_metrics(node)
        if queued and not st.restarting:
            st.pending_us.append(self.w.loop.now)
            if len(st.pending_us) == 1:
                self._watch(node, st)
        lag = self.w.s.kube_proxy.lag_s.sample_us(self.w.rng)
        self.w.loop.after(lag, self._sync, node, view, self.w.loop.now, len(log))

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

    def _sync(self, node: str, view: dict[str, Endpoint], changed_us: int, upto: int) -> None:
        st = self.nodes.get(node)
        if st is None or changed_us < st.applied_change_us or st.restarting:
            return
        was = self.proxier_healthy(node)
        oldest = st.pending_us[0] if st.pending_us else None
        st.applied_change_us = changed_us
        # Updated(): every change up to the one this sync programs is done
        st.pending_us = [t for t in st.pending_us if t > changed_us]
        self._apply(node, view, upto)
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

    def _apply(self, node: str, local: dict[str, Endpoint], upto: int | None = None) -> None:
        """A rules sync ends now, programming `local`: the view after the first `upto` changes
        queued on `node` (None: every change queued so far)."""
        st = self.nodes[node]
        ready = tuple(uid for uid, ep in local.items() if ep.ready)
        forwards = ready
        if not ready and self.w.s.kube_proxy.proxy_terminating_endpoints:
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

    # -- the truth, per node -------------------------------------------------------------
    def up(self, node: str) -> bool:
        n = self.w.nodes.get(node)
        return n is not None and n.exists and n.up and node in self.nodes

    def rules(self, node: str) -> bool:
        """Does the node forward the NodePort to any local endpoint at all?"""
        st = self.nodes.get(node)
        return st is not None and bool(st.forwards_to)

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
