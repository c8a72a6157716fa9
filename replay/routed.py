"""R, whether the LB routes to one (service, node): from TargetHealth samples (measured, with
the LB failing open where every registered target is unhealthy), else from CloudTrail membership
changes (membership measured, health inferred or unknown: replay.membership), else, without LB
data, from the endpoints lane plus service-controller Events or an assumed CCM lag, or, for a
node-driven LB, its health check on healthCheckNodePort (inferred). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.callorder import after_calls
from gapwatch.replay.context import ccm_mode, endpoint_steps, ready_pod_steps
from gapwatch.replay.excluded import unless_excluded
from gapwatch.replay.fold import FoldState, LaneKey, Sample, sorted_lane
from gapwatch.replay.lags import ccm_lag_hi
from gapwatch.replay.membership import (
    EVENT_TIME_RESOLUTION_US,
    HEALTH_UNKNOWN,
    member_lanes,
    membership_routed,
    pod_targeted,
)
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.observed import observed
from gapwatch.replay.signals import (
    Iv,
    Step,
    Tri,
    constant,
    intersect,
    minus_definite,
    shifted,
    steps_from_samples,
    steps_where,
    t_and,
    t_not,
    t_or,
    tri_from_steps,
    union,
)
from gapwatch.replay.unseen import hidden
from gapwatch.replay.unseenreturn import returned_unseen

LB_UPDATE_REASONS = frozenset({"UpdatedLoadBalancer", "EnsuredLoadBalancer"})


def _lb_update_times(state: FoldState, svc: ServiceRef) -> list[tuple[int, int]]:
    events = state.events.get(svc, [])
    return sorted(
        (s.prev_us or s.at_us, s.event_id) for s in events if s.value in LB_UPDATE_REASONS
    )


#: Target states that count as registered for fail-open (draining and absent do not).
_ACTIVE = frozenset({"initial", "healthy", "unhealthy", "unused"})
_UNHEALTHY = frozenset({"unhealthy"})


def fail_open(state: FoldState, svc: ServiceRef) -> Tri:
    """Where the LB fails open (AWS): registered targets exist and every one is unhealthy."""
    known = state.memo.fail_open.get(svc)
    if known is not None:
        return known
    all_bad, any_active = constant(True), constant(False)
    targets = state.probes["target"]
    for node in sorted(state.service_nodes.get(svc, ())):
        lane = targets.get((svc, node), [])
        if not lane:
            continue
        bad, active = _lane_terms(state, (svc, node), lane)
        all_bad = t_and(all_bad, bad)
        any_active = t_or(any_active, active)
    opened = t_and(all_bad, any_active)
    state.memo.fail_open[svc] = opened
    return opened


def _lane_terms(state: FoldState, key: LaneKey, lane: list[Sample]) -> tuple[Tri, Tri]:
    """One LB poll lane's share of `fail_open`: where its target is not registered or
    unhealthy, and where it is registered; kept in the memo while the lane (append-only) is
    as long."""
    known = state.memo.lane_fail_open.get(key)
    if known is not None and known[0] == len(lane):
        return known[1], known[2]
    ordered = sorted_lane(lane)
    active = tri_from_steps(steps_where(ordered, _ACTIVE, False), False)
    unhealthy = tri_from_steps(steps_where(ordered, _UNHEALTHY, False), False)
    bad = t_or(t_not(active), unhealthy)
    state.memo.lane_fail_open[key] = (len(lane), bad, active)
    return bad, active


def _not_routing(state: str) -> bool:
    """A target state in which the LB sends the node no new connections."""
    return state != "healthy"


def routed_signal(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> tuple[Tri, bool]:
    key = (svc, node)
    targets = observed(state, "target", svc, node, settings)
    if targets:
        steps = steps_from_samples(targets, "healthy", False)
        calls = member_lanes(state).get(key)
        if calls:  # CloudTrail: no turn-on before the call that registered the target
            within = EVENT_TIME_RESOLUTION_US + seconds_us(settings.clock_skew_s)
            steps = after_calls(steps, targets, calls, within)
        routed = tri_from_steps(steps, False)
        opened = fail_open(state, svc)
        if opened.possible:  # every registered target unhealthy: the LB routes to all of them
            unhealthy = tri_from_steps(steps_where(targets, _UNHEALTHY, False), False)
            routed = t_or(routed, t_and(opened, unhealthy))
        if ccm_mode(state, svc, settings) == "endpoint":
            # the CCM may have deregistered and re-registered between two polls
            ready = endpoint_steps(state, svc, node, ("ready",))
            ccm_hi = ccm_lag_hi(state, svc, settings)
            unseen = hidden(ready, targets, _not_routing, ccm_hi)
            # a CCM that reacts to Pods (Tencent's enable-grace-shutdown/-deletion zero a node's
            # weight when its last ready pod terminates) may drop the node with no EndpointSlice
            # change seen (the slice controller may go from the old ready pod to the new one)
            pods = ready_pod_steps(state, svc, node, seconds_us(settings.watch_skew_s))
            unseen = union(unseen, hidden(pods, targets, _not_routing, ccm_hi))
            routed = minus_definite(routed, unseen)
            # and registered it again and drained it once more between two polls that both
            # saw it draining (replay.unseenreturn)
            gap = max((s.at_us - s.prev_us for s in targets if s.prev_us is not None), default=0)
            skew = seconds_us(settings.watch_skew_s)
            back = returned_unseen(ready, targets, ccm_hi, gap, skew)
            if back:
                routed = Tri(union(routed.possible, back), routed.definite)
        skipped = unseen_registrations(state, svc, node, settings, targets)
        if skipped:
            routed = Tri(union(routed.possible, skipped), routed.definite)
        return routed, True
    polled = state.probes["target"]
    if any((svc, n) in polled for n in state.service_nodes.get(svc, ())):
        return constant(False), True  # the LB is polled and never had this node
    node_driven = ccm_mode(state, svc, settings) == "node"
    inferred = _inferred_routed(state, svc, node, settings, node_driven)
    members = member_lanes(state).get(key)
    if members:  # CloudTrail: membership measured, health only inferred (replay.membership)
        # a node-driven LB checks healthCheckNodePort; IP targets are checked on the pod
        checked = node_driven and not pod_targeted(state, key)
        health = _health_inferred(state, svc, node, settings) if checked else HEALTH_UNKNOWN
        lo = seconds_us(settings.ccm_lag_min_s)
        hi = ccm_lag_hi(state, svc, settings)
        return membership_routed(members, inferred, health, lo, hi), True
    # a Node labelled out of every LB is routed to by none (replay.excluded)
    return unless_excluded(
        inferred, state, svc.cluster, node, ccm_lag_hi(state, svc, settings)
    ), False


def unseen_registrations(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    targets: Sequence[Sample] | None = None,
) -> list[Iv]:
    """`registered_unseen` of the node's target lane (`targets`: the lane on the recorder's
    clock, when the caller has it), with the CCM mode and, endpoint-driven, where the node's
    endpoints were possibly ready (it registers a node for them)."""
    if targets is None:
        targets = observed(state, "target", svc, node, settings)
    mode = ccm_mode(state, svc, settings)
    listed = None
    if mode == "endpoint":
        listed = tri_from_steps(endpoint_steps(state, svc, node, ("ready",)), False).possible
    return registered_unseen(targets, mode, settings, listed)


def registered_unseen(
    targets: Sequence[Sample],
    mode: str,
    settings: DetectSettings,
    listed: Sequence[Iv] | None = None,
) -> list[Iv]:
    """Where the LB may have routed to a target no poll saw registered: one that appeared
    (its lane's first sample, or after `absent`) already `draining`. A draining target is one
    being deregistered (AWS's target health states, `Target.DeregistrationInProgress`: DESIGN.md
    section 6), so it was registered, and possibly routed to, somewhere between the poll before
    (its `prev_us`: the group's last look, which did not list it) and this one. An endpoint-driven
    CCM's target takes traffic once registered; a health-checked one only after its healthy
    threshold of checks (`hc_healthy_threshold` x `hc_interval_s`, the first one at once):
    shorter than that between the two polls, it never turned healthy. An endpoint-driven CCM
    registers a node for its ready endpoints (`listed`: where the node's endpoints were
    possibly ready): not before they were (less the watch skew: the CCM's watch may have
    delivered the change before the recorder's), where they were between the two polls. A first look
    with no poll before it (`prev_us` None) bounds nothing and adds nothing."""
    need, skew = 0, seconds_us(settings.watch_skew_s)
    if mode != "endpoint":
        need = seconds_us((settings.hc_healthy_threshold - 1) * settings.hc_interval_s)
    out = []
    before = "absent"
    for s in targets:
        appeared = s.value == "draining" and before == "absent" and s.prev_us is not None
        if appeared and s.at_us - s.prev_us > need:  # type: ignore[operator]
            start = s.prev_us + need  # type: ignore[operator]
            # the CCM may have seen the endpoints ready up to the watch skew before the recorder
            ready = intersect(listed, [Iv(start + skew, s.at_us)]) if listed else []
            out.append(Iv(max(start, ready[0].start - skew) if ready else start, s.at_us,
                          0, s.event_id))  # fmt: skip
        before = s.value
    return out


def _health_inferred(state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings) -> Tri:
    """A node-driven LB's health check on healthCheckNodePort, inferred from the endpoints:
    kube-proxy's lag, then the thresholds' checks (AWS defaults, DESIGN.md section 6)."""
    eps = endpoint_steps(state, svc, node, ("ready",))
    lag_lo, lag_hi = (seconds_us(x) for x in settings.proxy_lag_s)
    interval = seconds_us(settings.hc_interval_s)
    out = []
    for s in eps:
        threshold = settings.hc_healthy_threshold if s.value else settings.hc_unhealthy_threshold
        out.append(
            Step(
                s.earliest + lag_lo + (threshold - 1) * interval,
                s.latest + lag_hi + threshold * interval,
                s.value,
                s.event_id,
            )
        )
    return tri_from_steps(shifted(out, 0, 0), False)


def _inferred_routed(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings, node_driven: bool
) -> Tri:
    """R without LB data: the health check (node-driven), else the CCM following the
    endpoints after its lag, confirmed by service-controller Events where they exist."""
    if node_driven:
        return _health_inferred(state, svc, node, settings)
    eps = endpoint_steps(state, svc, node, ("ready",))
    updates = _lb_update_times(state, svc)
    lo, hi = (seconds_us(x) for x in settings.ccm_lag_s)
    out = []
    for s in eps:
        seen = next(((t, e) for t, e in updates if s.latest <= t <= s.latest + hi), None)
        latest, eid = seen if seen else (s.latest + hi, s.event_id)
        out.append(Step(s.earliest + lo, max(latest, s.earliest + lo), s.value, eid))
    return tri_from_steps(shifted(out, 0, 0), False)
