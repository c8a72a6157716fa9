"""Ground truth, computed from the simulator's TRUE state as it changes (never from observations).

For each node: R = the LB routes new connections to it, F = kube-proxy forwards to a local pod that
still serves (docs/semantics.md, docs/simulator.md). A window is a maximal interval of R and not F,
classed by its cause at its start. Failed requests: client traffic at `rps` is split evenly over
the routed nodes (a Poisson process per node), so the requests that hit a window are drawn per
window segment at rate rps/k (k routed nodes); the outcome follows the node's state. With a
request duration, a pod killed abruptly also resets the requests in flight on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.traffic import log_failed_request

if TYPE_CHECKING:
    from gapwatch.recorder.sim.state import PodState
    from gapwatch.recorder.sim.world import World


@dataclass(frozen=True, slots=True)
class TrueWindow:
    node: str
    cls: str
    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class FailedRequest:
    node: str
    at_us: int
    outcome: str


@dataclass(slots=True)
class TrueRollout:
    id: str
    workload: str
    revision_from: str
    revision_to: str
    start_us: int
    end_us: int | None = None
    pods_gone_us: int | None = None


@dataclass(slots=True)
class TruthTracker:
    w: World
    rng: random.Random
    windows: list[TrueWindow] = field(default_factory=list)
    requests: list[FailedRequest] = field(default_factory=list)
    rollouts: list[TrueRollout] = field(default_factory=list)
    _open: dict[str, tuple[int, str]] = field(default_factory=dict)
    _segments: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: (time, the nodes the LB routes to from then on), at every change (the simulated ALB
    #: log's successful requests: recorder.sim.alblog)
    routing: list[tuple[int, frozenset[str]]] = field(default_factory=list)
    _routed: frozenset[str] = frozenset()
    _rate_k: int = 0

    # -- windows ---------------------------------------------------------------------------
    def evaluate(self, nodes: list[str], *, routing: bool = False) -> None:
        """Re-check `nodes` (their R or F may have changed); `routing`: the LB's routing may
        have changed, so every node whose R flipped and every open window is checked too."""
        w = self.w
        now = w.loop.now
        routed = self._routed
        if routing:
            routed = frozenset(w.lb.routed_nodes())
            if routed != self._routed:
                if len(routed) != self._rate_k:
                    for node in list(self._segments):
                        self._flush(node, now)
                    self._rate_k = len(routed)
                flipped = routed ^ self._routed
                self._routed = routed
                self.routing.append((now, routed))
                self._settle(now)
                extra = flipped.union(self._open).difference(nodes)
                if extra:
                    nodes = nodes + w.sort_nodes(extra)
        for node in nodes:
            r = node in routed
            f = w.proxy.serves(node)
            is_gap = r and not f
            opened = self._open.get(node)
            if is_gap:
                outcome = self._outcome(node)
                seg = self._segments.get(node)
                if seg is None or seg[1] != outcome:
                    if seg is not None:
                        self._flush(node, now)
                    self._segments[node] = (now, outcome)
                if opened is None:
                    self._open[node] = (now, self._cause(node))
            elif opened is not None:
                self._flush(node, now)
                del self._segments[node]
                self._close(node, now)

    def _close(self, node: str, now: int) -> None:
        """Record the window; one shorter than `min_window_s` is dropped unless a request
        failed in it (the truth never has a failed request outside a window)."""
        start, cls = self._open.pop(node)
        short = now - start < us(self.w.s.truth.min_window_s)
        if not short or any(q.node == node and q.at_us >= start for q in self._recent(start)):
            self.windows.append(TrueWindow(node, cls, start, now))
        self._settle(now)

    def _recent(self, since_us: int) -> list[FailedRequest]:
        """The failed requests at or after `since_us` (requests are appended nearly in order)."""
        out = []
        for q in reversed(self.requests):
            if q.at_us < since_us - us(60):
                break
            out.append(q)
        return out

    def _cause(self, node: str) -> str:
        proxy = self.w.proxy
        if not proxy.up(node):
            return "node-not-ready"
        if not proxy.rules(node):
            if self.w.slices.ready_local(node):
                return "registered-before-forwarding"
            return "closed-before-deregistered"
        return "pod-gone-before-deregistered"

    def _outcome(self, node: str) -> str:
        proxy = self.w.proxy
        if proxy.up(node) and proxy.refuses(node):
            return "refused"
        return "502" if self.w.s.lb.listener == "http" else "timeout"

    # -- failed requests -------------------------------------------------------------------
    def _flush(self, node: str, now: int) -> None:
        seg = self._segments.get(node)
        rps = self.w.s.traffic.rps
        if seg is None:
            return
        start, outcome = seg
        self._segments[node] = (now, outcome)
        if rps <= 0 or self._rate_k <= 0 or now <= start:
            return
        rate_per_us = rps / self._rate_k / 1e6
        t = start + self.rng.expovariate(rate_per_us)
        while t < now:
            self.requests.append(FailedRequest(node, int(t), outcome))
            log_failed_request(self.w, node, int(t), outcome, len(self.requests))
            t += self.rng.expovariate(rate_per_us)

    def pod_killed(self, pod: PodState) -> None:
        """A serving pod dies abruptly (SIGKILL, crash): requests in flight on it are reset.

        Requests last `traffic.request_duration_s`; those sent to the pod in the last such
        interval (a Poisson count at the node's share of the traffic, split over the pods it
        forwards to) are reset, stamped at the kill: the instant they failed.
        """
        w = self.w
        t = w.s.traffic
        node = pod.node
        if t.rps <= 0 or t.request_duration_s <= 0 or node not in self._routed:
            return
        st = w.proxy.nodes.get(node)
        if st is None or pod.uid not in st.forwards_to:
            return
        pods = w.pods_by_uid
        serving = sum(1 for uid in st.forwards_to if (p := pods.get(uid)) and p.serving)
        rate_per_us = t.rps / max(1, len(self._routed)) / max(1, serving) / 1e6
        now = w.loop.now
        elapsed = self.rng.expovariate(rate_per_us)
        while elapsed < us(t.request_duration_s):
            self.requests.append(FailedRequest(node, now, "reset"))
            log_failed_request(w, node, now, "reset", len(self.requests))
            elapsed += self.rng.expovariate(rate_per_us)

    # -- rollouts --------------------------------------------------------------------------
    def rollout_started(self, workload: str, revision_from: str, revision_to: str) -> str:
        rid = f"rollout-{len(self.rollouts) + 1}"
        self.rollouts.append(
            TrueRollout(rid, workload, revision_from, revision_to, self.w.loop.now)
        )
        return rid

    def rollout_pods_gone(self, rid: str) -> None:
        for r in self.rollouts:
            if r.id == rid and r.pods_gone_us is None:
                r.pods_gone_us = r.end_us = self.w.loop.now

    def _settle(self, now: int) -> None:
        """An LB or window change shortly after a rollout's last old pod: the LB still settling."""
        horizon = us(self.w.s.truth.settle_s)
        for r in self.rollouts:
            if r.pods_gone_us is not None and now - r.pods_gone_us <= horizon:
                r.end_us = max(r.end_us or now, now)

    def finish(self, end_us: int) -> None:
        """Close what is still open at the end of the simulation."""
        for node in sorted(self._open):
            self._flush(node, end_us)
            self._close(node, end_us)
        self._segments.clear()
        for r in self.rollouts:
            if r.end_us is None:
                r.end_us = end_us
        self.windows.sort(key=lambda x: (x.start_us, x.node))
        self.requests.sort(key=lambda x: (x.at_us, x.node))
