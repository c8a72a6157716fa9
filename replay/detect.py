"""Detection: gap windows (R and not F) per (service, node), classified, with uncertainty.

R, "the LB routes new connections to N", comes from TargetHealth samples (measured) or, without
LB data, from the endpoints lane plus service-controller Events or an assumed CCM lag (inferred).
F, "N serves", comes from NodePort probes (measured: connected or not), else from the
health-check-node-port answer (measured, plus ProxyTerminatingEndpoints inference), else from the
endpoints and pod lanes shifted by an assumed kube-proxy lag (inferred). docs/semantics.md has
the rules; `Window.certain` is False for a window the samples allow but do not prove.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from replay.fold import FoldState, Sample, horizon, lb_facing, sorted_lane
from replay.model import ServiceRef, Window, WindowClass
from replay.signals import (
    HI,
    Iv,
    Step,
    Tri,
    complement,
    constant,
    exact_steps,
    intersect,
    shifted,
    steps_from_samples,
    t_and,
    t_not,
    t_or,
    tri_from_steps,
    value_at,
)

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


def _lb_update_times(state: FoldState, svc: ServiceRef) -> list[tuple[int, int]]:
    events = state.events.get(svc, [])
    return sorted(
        (s.prev_us or s.at_us, s.event_id) for s in events if s.value in LB_UPDATE_REASONS
    )


@dataclass(frozen=True, slots=True)
class Lanes:
    """The two signals of one (service, node) and what they came from."""

    routed: Tri
    serves: Tri
    measured: bool
    #: samples whose values explain why F is false (classification), and their times
    reason_samples: list[Sample]
    eps: list[Sample]
    reason_times: list[int] = field(default_factory=list)


def hidden(
    usable: Sequence[Step], samples: Sequence[Sample], bad: Callable[[str], bool], hi_us: int
) -> list[Iv]:
    """Where a sampled lane may have been false unseen: the endpoints left the usable set and
    came back (plus the reaction lag) while no sample in between showed it. Sampling every P
    seconds hides any excursion shorter than P; the endpoints lane (exact) says where to look."""
    bad_times = [s.at_us for s in samples if bad(s.value)]
    periods: list[Iv] = []
    down: Step | None = None
    seen_up = False
    for step in usable:
        if step.value:
            if down is not None:
                periods.append(Iv(down.latest, step.latest + hi_us, down.event_id, step.event_id))
            down, seen_up = None, True
        elif seen_up:
            down = step
    if down is not None:
        periods.append(Iv(down.latest, HI, down.event_id, 0))
    out = []
    for iv in periods:
        i = bisect_left(bad_times, iv.start)
        if i < len(bad_times) and bad_times[i] <= iv.end:
            continue  # the samples saw this one: their own steps bound it
        out.append(iv)
    return out


def _minus_definite(tri: Tri, unsure: list[Iv]) -> Tri:
    return Tri(tri.possible, intersect(tri.definite, complement(unsure))) if unsure else tri


def proxy_lag_hi(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """The largest kube-proxy lag to assume: configured, or the largest measured (x1.5)."""
    from replay.lags import lag_samples  # lags builds on this module

    measured = [s.seconds for s in lag_samples(state, [svc], settings, proxy_only=True)]
    return _us(max([settings.proxy_lag_s[1], *(1.5 * m for m in measured)]))


def serves_signal(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings, lag_hi: int
) -> tuple[Tri, bool, list[Sample]]:
    key = (svc, node)
    eps = state.endpoints.get(key, [])
    pte = pte_enabled(state, svc.cluster, node, settings)
    accept = ("ready", "serving-terminating") if pte else ("ready",)
    # where an excursion may hide, assume no PTE unless it is known to be on (never miss one)
    usable = eps_steps(eps, accept if pte_known(state, svc.cluster, settings) else ("ready",))
    nodeport = sorted_lane(state.probes["nodeport"].get(key, []))
    if nodeport:
        steps = steps_from_samples(nodeport, "connected", True)
        unseen = hidden(usable, nodeport, lambda v: v != "connected", lag_hi)
        return _minus_definite(tri_from_steps(steps, True), unseen), True, nodeport
    lo = _us(settings.proxy_lag_s[0])
    alive = tri_from_steps(alive_steps(state, svc, node), False)
    health = sorted_lane(state.probes["health"].get(key, []))
    if health:
        serves = tri_from_steps(steps_from_samples(health, "200", True), True)
        if pte:
            # ready -> terminating is no forwarding change with PTE: shift the whole set
            terminating = shifted(eps_steps(eps, accept), lo, lag_hi)
            serves = t_or(serves, t_and(tri_from_steps(terminating, False), alive))
        unseen = hidden(usable, health, lambda v: v != "200", lag_hi)
        return _minus_definite(serves, unseen), True, health
    forwarding = tri_from_steps(shifted(eps_steps(eps, accept), lo, lag_hi), False)
    ready_node = tri_from_steps(node_ready_steps(state, svc.cluster, node), True)
    return t_and(t_and(forwarding, alive), ready_node), False, []


def routed_signal(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> tuple[Tri, bool]:
    key = (svc, node)
    targets = sorted_lane(state.probes["target"].get(key, []))
    if targets:
        steps = steps_from_samples(targets, "healthy", False)
        routed = tri_from_steps(steps, False)
        if ccm_mode(state, svc, settings) == "endpoint":
            # the CCM may have deregistered and re-registered between two polls
            ready = eps_steps(state.endpoints.get(key, []), ("ready",))
            ccm_hi = _us(settings.ccm_lag_s[1])
            routed = _minus_definite(
                routed, hidden(ready, targets, lambda v: v != "healthy", ccm_hi)
            )
        return routed, True
    polled = state.probes["target"]
    if any((svc, n) in polled for n in state.service_nodes.get(svc, ())):
        return constant(False), True  # the LB is polled and never had this node
    eps = eps_steps(state.endpoints.get(key, []), ("ready",))
    if ccm_mode(state, svc, settings) == "node":
        lag_lo, lag_hi = (_us(x) for x in settings.proxy_lag_s)
        interval = _us(settings.hc_interval_s)
        out = []
        for s in eps:
            threshold = (
                settings.hc_healthy_threshold if s.value else settings.hc_unhealthy_threshold
            )
            out.append(
                Step(
                    s.earliest + lag_lo + (threshold - 1) * interval,
                    s.latest + lag_hi + threshold * interval,
                    s.value,
                    s.event_id,
                )
            )
        return tri_from_steps(shifted(out, 0, 0), False), False
    updates = _lb_update_times(state, svc)
    lo, hi = (_us(x) for x in settings.ccm_lag_s)
    out = []
    for s in eps:
        seen = next(((t, e) for t, e in updates if s.latest <= t <= s.latest + hi), None)
        latest, eid = seen if seen else (s.latest + hi, s.event_id)
        out.append(Step(s.earliest + lo, max(latest, s.earliest + lo), s.value, eid))
    return tri_from_steps(shifted(out, 0, 0), False), False


def lanes(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings, lag_hi: int
) -> Lanes:
    routed, r_measured = routed_signal(state, svc, node, settings)
    serves, f_measured, reasons = serves_signal(state, svc, node, settings, lag_hi)
    eps = state.endpoints.get((svc, node), [])
    times = [s.at_us for s in reasons]
    return Lanes(routed, serves, r_measured and f_measured, reasons, eps, times)


def classify(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    at_us: int,
    alive: list[Step],
    alive_initial: bool = False,
) -> WindowClass:
    """The cause at the window's start (docs/semantics.md)."""
    if value_at(state.nodes.get((svc.cluster, node), []), at_us) in ("NotReady", "Unknown"):
        return "node-not-ready"
    reason = _false_reason(lanes_.reason_samples, lanes_.reason_times, at_us)
    if reason in ("refused", "reset"):
        return "pod-gone-before-deregistered"
    if not lanes_.reason_samples and not _holds(alive, at_us, alive_initial):
        return "pod-gone-before-deregistered"
    if value_at(lanes_.eps, at_us) == "ready":
        return "registered-before-forwarding"
    return "closed-before-deregistered"


def _holds(steps: Sequence[Step], at_us: int, initial: bool) -> bool:
    value = initial
    for s in steps:
        if s.latest > at_us:
            break
        value = s.value
    return value


def _false_reason(samples: Sequence[Sample], times: Sequence[int], at_us: int) -> str | None:
    """The value of the not-serving sample nearest `at_us`: the last at or before it, else the
    first after it."""
    bad = ("connected", "200")
    i = bisect_right(times, at_us)
    before = next((s for s in reversed(samples[:i]) if s.value not in bad), None)
    if before is not None:
        return before.value
    after = next((s for s in samples[i:] if s.value not in bad), None)
    return after.value if after else None


def windows_from(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    horizon_us: int,
    *,
    alive: list[Step] | None = None,
    alive_initial: bool = False,
) -> list[Window]:
    """Windows of one (service, node) from its two signals (`alive`: the local pods' lane)."""
    gap = t_and(lanes_.routed, t_not(lanes_.serves))
    if alive is None:
        alive = alive_steps(state, svc, node)
    out: list[Window] = []
    candidates: list[Iv] = []
    for iv in gap.possible:
        if candidates and iv.start <= candidates[-1].end:
            last = candidates[-1]
            candidates[-1] = Iv(last.start, max(last.end, iv.end), last.start_eid, iv.end_eid)
        else:
            candidates.append(iv)
    definite, j = gap.definite, 0
    for cand in candidates:
        end = cand.end if cand.end < HI else horizon_us  # still open at the end of the data
        if end <= cand.start:
            continue
        while j < len(definite) and definite[j].end <= cand.start:
            j += 1
        sure = []
        k = j
        while k < len(definite) and definite[k].start < end:
            if definite[k].end > cand.start:
                sure.append(definite[k])
            k += 1
        if sure:
            start_latest = max(sure[0].start, cand.start)
            end_earliest = min(sure[-1].end, end)
        else:
            start_latest, end_earliest = end, cand.start
        start = (cand.start + start_latest) // 2
        finish = max(start, (end_earliest + end) // 2)
        # the cause at the start; for an unproven window the state just before it surely ended
        probe = start_latest if sure else end - 1
        out.append(
            Window(
                service=svc,
                node=node,
                cls=classify(state, svc, node, lanes_, probe, alive, alive_initial),
                start_us=start,
                end_us=finish,
                start_earliest_us=cand.start,
                start_latest_us=start_latest,
                end_earliest_us=end_earliest,
                end_latest_us=end,
                provenance="measured" if lanes_.measured else "inferred",
                opened_by=(cand.start_eid,) if cand.start_eid else (),
                closed_by=(cand.end_eid,) if cand.end_eid and cand.end < HI else (),
                certain=bool(sure),
            )
        )
    return out


def nodes_of(state: FoldState, svc: ServiceRef) -> list[str]:
    return sorted(n for n in state.service_nodes.get(svc, ()) if n)


def detect(
    state: FoldState,
    services: Sequence[ServiceRef] | None = None,
    settings: DetectSettings = DEFAULTS,
) -> list[Window]:
    """Every gap window of the given (default: all LB-facing) Services, in time order."""
    out: list[Window] = []
    for svc in services if services is not None else lb_facing(state):
        end_of_data = horizon(state, svc)
        lag_hi = proxy_lag_hi(state, svc, settings)
        for node in nodes_of(state, svc):
            found = lanes(state, svc, node, settings, lag_hi)
            out.extend(windows_from(state, svc, node, found, end_of_data))
    out.sort(key=lambda w: (w.start_us, w.service, w.node))
    return out
