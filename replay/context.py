"""What detection assumes and derives about a Service before looking at windows.

The settings used where a lane has no measurement, whether ProxyTerminatingEndpoints is in force
(configured, shown by the probes, or by kube-proxy's version), which CCM mode the LB follows, the
pods backing the Service on a node and whether they are up, and the largest kube-proxy lag to
assume. Pure; results that need the whole state are memoized in `FoldState.cache`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from gapwatch.replay.fold import FoldState, Sample, lb_facing, sorted_lane
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import Step, exact_steps, intersect, steps_from_samples, tri_from_steps

US = 1_000_000
LB_UPDATE_REASONS = frozenset({"UpdatedLoadBalancer", "EnsuredLoadBalancer"})


@dataclass(frozen=True, slots=True)
class DetectSettings:
    """Assumptions used only where a lane has no measurement (inferred provenance)."""

    proxy_lag_s: tuple[float, float] = (0.0, 2.0)
    ccm_lag_s: tuple[float, float] = (0.0, 10.0)
    ccm_mode: str | None = None  # "endpoint" | "node"; None: decide from the LB data
    hc_interval_s: float = 10.0
    hc_healthy_threshold: int = 2
    hc_unhealthy_threshold: int = 2
    proxy_terminating_endpoints: bool | None = None  # None: from the nodes' kube-proxy version


DEFAULTS = DetectSettings()


def _version(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = text.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def pte_known(state: FoldState, cluster: str, settings: DetectSettings) -> bool | None:
    """ProxyTerminatingEndpoints as configured, else as the probes showed it in this cluster (a
    NodePort answering, or not, while the node's only endpoints had long been
    serving-terminating); None when neither says."""
    if settings.proxy_terminating_endpoints is not None:
        return settings.proxy_terminating_endpoints
    key = ("pte", cluster)
    if key not in state.cache:
        services = [svc for svc in lb_facing(state) if svc.cluster == cluster]
        settle = max([0, *(proxy_lag_hi(state, svc, settings) for svc in services)])
        state.cache[key] = _pte_evidence(state, cluster, settle)
    seen = state.cache[key]
    return seen if isinstance(seen, bool) else None


def pte_enabled(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints: known (pte_known), else on from kube-proxy 1.26 (unknown: on)."""
    known = pte_known(state, cluster, settings)
    if known is not None:
        return known
    version = _version(state.node_versions.get((cluster, node)))
    return version is None or version >= (1, 26)


def _pte_evidence(state: FoldState, cluster: str, settle_us: int) -> bool | None:
    """A NodePort that answers while the node's endpoints have only been serving-terminating
    for longer than kube-proxy's lag: PTE on. One that times out while they have been ready or
    serving-terminating that long, and are serving-terminating now: PTE off."""
    verdict: bool | None = None
    for (svc, node), samples in state.probes["nodeport"].items():
        if svc.cluster != cluster:
            continue
        if _forwards_without_ready(samples, state.probes["health"].get((svc, node), [])):
            return True
        lane = state.endpoints.get((svc, node), [])
        times = [e.at_us for e in lane]
        for s in samples:
            i = bisect_right(times, s.at_us) - 1
            if i < 0 or lane[i].value != "serving-terminating":
                continue
            if s.value == "connected" and s.at_us - lane[i].at_us > settle_us:
                return True
            if s.value == "timeout":
                while i > 0 and lane[i - 1].value in ("ready", "serving-terminating"):
                    i -= 1
                if s.at_us - lane[i].at_us > settle_us:
                    verdict = False
    return verdict


def _forwards_without_ready(nodeport: list[Sample], health: list[Sample]) -> bool:
    """The NodePort surely connected while the health check surely answered 503 with no ready
    local endpoint: kube-proxy forwarded to terminating endpoints only, which is PTE."""
    if not nodeport or not health:
        return False
    connected = tri_from_steps(steps_from_samples(sorted_lane(nodeport), "connected", False), False)
    unready = [
        s._replace(value="1" if s.value == "503" and s.num == 0 else "0")
        for s in sorted_lane(health)
    ]
    no_ready = tri_from_steps(steps_from_samples(unready, "1", False), False)
    return bool(intersect(connected.definite, no_ready.definite))


def ccm_mode(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> str:
    """node-driven when the LB ever reported health-check states, else endpoint-driven."""
    if settings.ccm_mode:
        return settings.ccm_mode
    key = ("ccm", f"{svc.cluster}/{svc.namespace}/{svc.name}")
    if key not in state.cache:
        targets = state.probes["target"]
        lanes = (targets.get((svc, n), ()) for n in state.service_nodes.get(svc, ()))
        checks = any(s.value in ("initial", "unhealthy") for lane in lanes for s in lane)
        state.cache[key] = "node" if checks else "endpoint"
    return str(state.cache[key])


def _us(seconds: float) -> int:
    return round(seconds * US)


def local_pods(state: FoldState, svc: ServiceRef, node: str) -> list[str]:
    """The pods backing the Service that ran on the node (per Service index, cached)."""
    key = ("pods", f"{svc.cluster}/{svc.namespace}/{svc.name}")
    known = state.cache.get(key)
    if isinstance(known, dict):
        return sorted(known.get(node, []))
    index: dict[str, list[str]] = {}
    for pod, pod_node in state.service_pods.get(svc, {}).items():
        index.setdefault(pod_node, []).append(pod)
    state.cache[key] = index
    return sorted(index.get(node, []))


def alive_steps(state: FoldState, svc: ServiceRef, node: str) -> list[Step]:
    """Whether any local pod backing the Service is still up (ready or terminating)."""
    changes: list[tuple[int, int, int]] = []
    for pod in local_pods(state, svc, node):
        alive = False
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            now = p.state in ("ready", "terminating")
            if now != alive:
                changes.append((p.at_us, 1 if now else -1, p.event_id))
                alive = now
    count, out = 0, []
    for at, delta, eid in sorted(changes):
        count += delta
        out.append((at, count > 0, eid))
    return exact_steps(out, False)


def eps_steps(lane: Sequence[Sample], accept: tuple[str, ...]) -> list[Step]:
    return exact_steps([(s.at_us, s.value in accept, s.event_id) for s in lane], False)


def node_ready_steps(state: FoldState, cluster: str, node: str) -> list[Step]:
    lane = state.nodes.get((cluster, node), [])
    return exact_steps([(s.at_us, s.value == "Ready", s.event_id) for s in lane], True)


def proxy_lag_hi(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """The largest kube-proxy lag to assume: configured, or the largest measured (x1.5). A
    measured lag is the midpoint of a probe interval: its upper bound is half a probe period
    more, so that is what gets the margin (a 5 s probe period hides up to 2.5 s of lag)."""
    from gapwatch.replay.lags import lag_samples  # lags builds on this module

    key = ("proxy-lag-hi", f"{svc.cluster}/{svc.namespace}/{svc.name}")
    known = state.cache.get(key)
    if isinstance(known, int):
        return known
    half = probe_period(state, svc) / 2
    measured = [s.seconds for s in lag_samples(state, [svc], settings, proxy_only=True)]
    hi = _us(max([settings.proxy_lag_s[1], *(1.5 * (m + half) for m in measured)]))
    state.cache[key] = hi
    return hi


def probe_period(state: FoldState, svc: ServiceRef) -> float:
    """The kube-proxy probe period in seconds (the largest gap a change sample names between
    itself and the previous look), 0 without probes."""
    gaps = [
        s.at_us - s.prev_us
        for kind in ("nodeport", "health")
        for node in state.service_nodes.get(svc, ())
        for s in state.probes[kind].get((svc, node), ())
        if s.prev_us is not None and s.at_us > s.prev_us
    ]
    return max(gaps, default=0) / US


def nodes_of(state: FoldState, svc: ServiceRef) -> list[str]:
    return sorted(n for n in state.service_nodes.get(svc, ()) if n)
