"""LB membership from CloudTrail (`member` facts): which node a target group held, and when.

The `cloudtrail` importer stores RegisterTargets / DeregisterTargets calls without a Service or
node (a target is an instance id or an IP and a port). Here they are tied to lanes the way the
access-log lines are: the node by the instance id in the Nodes' providerID (or the target IP
among the Nodes' addresses), the Service by the target's port among the Services' nodePorts;
a target group whose Service one call revealed lends it to its other calls (a DeleteTargetGroup
deregisters every node the group held). Calls that stay unresolved are left out.

What membership proves and what it does not (docs/semantics.md, "LB membership from CloudTrail"):

- The call's time is `eventTime`, whole seconds: the call happened within +-1 s of it
  (`EVENT_TIME_RESOLUTION_US`).
- AWS applies a registration or deregistration later than the call (AWS support quotes 3-5 min
  to take effect; new flows were seen ~120 s after deregistration, aws/containers-roadmap#470):
  the effect is shifted by the CCM lag bounds (`ccm_lag_min_s`, `ccm_lag_hi`), measured where LB
  polls measured it, else assumed.
- Registration is not routing: the LB sends traffic to a registered target only once its
  health check passes. Without a known health check, a registered target is *possibly* routed,
  never definitely; with a node-driven LB (health check on healthCheckNodePort) the caller's
  inferred health bounds it.
- Before a node's first call the trail says nothing: the inferred R stays in force there.
Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gapwatch.replay.fold import FoldState, LaneKey, MemberRow, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import HI, LO, Iv, Step, Tri, shifted, t_and, t_or, tri_from_steps

#: CloudTrail's eventTime has whole seconds (AWS CloudTrail record contents: "eventTime ... The
#: date and time the request was made, in coordinated universal time (UTC)", ISO 8601 without
#: fractions): a call lies within this of its eventTime.
EVENT_TIME_RESOLUTION_US = 1_000_000

REGISTERED = "registered"
GROUP_CREATED = "group-created"


def node_driven_by_trail(state: FoldState, svc: ServiceRef) -> bool:
    """The trail shows a node-driven LB (one that health-checks every node): a CreateTargetGroup
    that health-checks the Service's healthCheckNodePort (the upstream and AWS way for a Local
    Service), or a registered node that never had a ready endpoint of the Service (an
    endpoint-driven CCM registers only nodes with endpoints; one that registers every node
    relies on the health check to skip the empty ones)."""
    info = state.services.get(svc)
    ports = info.health_check_ports if info is not None else frozenset()
    if any(
        m.state == GROUP_CREATED and m.health_check_port in ports and _service(state, m) == svc
        for m in state.members
    ):
        return True
    lanes = member_lanes(state)
    return any(
        ref == svc
        and (svc.cluster, node) in state.nodes  # a Node object: its endpoints are known
        and (ref, node) not in state.memo.pod_targets
        and any(s.value == REGISTERED for s in samples)
        and not any(e.value == "ready" for e in state.endpoints.get((svc, node), ()))
        for (ref, node), samples in lanes.items()
    )


def _service(state: FoldState, m: MemberRow) -> ServiceRef | None:
    if m.namespace and m.name:
        return ServiceRef(m.cluster, m.namespace, m.name)
    if m.port is not None:
        return state.node_ports.get((m.cluster, m.port))
    return None


#: An EC2 instance id: the target of an instance-mode target group ("i-" and 8 or 17 hex digits)
_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


def _node(state: FoldState, m: MemberRow) -> str | None:
    """The target's node: by the Nodes' providerIDs and addresses; an instance no Node names
    (yet) is named by its instance id, so its lane still exists."""
    if m.node:
        return m.node
    target = m.target or ""
    known = state.node_ids.get((m.cluster, target)) or state.node_addresses.get((m.cluster, target))
    if known:
        return known
    return target if _INSTANCE_ID.match(target) else None


def _pod(state: FoldState, m: MemberRow) -> tuple[ServiceRef | None, str] | None:
    """An IP target that is a pod's IP (AWS LB Controller `target-type: ip`): the Service whose
    EndpointSlices named the pod, and the pod's node."""
    hit = state.pod_ips.get((m.cluster, m.target or ""))
    if hit is None:
        return None
    namespace, pod, node = hit
    for svc, pods in state.service_pods.items():
        if svc.cluster == m.cluster and svc.namespace == namespace and pod in pods:
            return svc, node
    return None, node


def pod_targeted(state: FoldState, key: LaneKey) -> bool:
    """Whether the LB sends this lane's traffic to pod IPs: past kube-proxy, straight to the
    pods (the lane's F is the local pods serving, not kube-proxy forwarding)."""
    member_lanes(state)
    return key in state.memo.pod_targets


_Resolved = list[tuple[MemberRow, ServiceRef | None, str | None, bool]]


def _resolved(state: FoldState) -> tuple[dict[tuple[str, str], ServiceRef], _Resolved]:
    """Each call with its Service, node and whether it targets a pod, in time order; and the
    Service each group is tied to (by the first of its calls that revealed one)."""
    groups: dict[tuple[str, str], ServiceRef] = {}
    resolved: _Resolved = []
    for m in sorted(state.members, key=lambda r: (r.at_us, r.event_id)):
        pod = _pod(state, m)
        svc = pod[0] if pod is not None and pod[0] is not None else _service(state, m)
        if svc is not None and m.group:
            groups.setdefault((m.cluster, m.group), svc)
        node = pod[1] if pod is not None else _node(state, m)
        resolved.append((m, svc, node, pod is not None))
    return groups, resolved


def group_services(state: FoldState) -> dict[tuple[str, str], ServiceRef]:
    """(cluster, target group ARN or Classic LB name) -> the Service its calls reveal."""
    return _resolved(state)[0]


def member_lanes(state: FoldState) -> dict[LaneKey, list[Sample]]:
    """Per (Service, node): the membership changes (value registered / deregistered, at the
    call's eventTime), in time order: a node is registered while the group holds any of its
    targets (one instance, or several pod IPs). Memoized until the next fold."""
    if state.memo.members:
        return state.memo.members[0]
    groups, resolved = _resolved(state)
    out: dict[LaneKey, list[Sample]] = {}
    held: dict[tuple[str, str], dict[str, set[str]]] = {}
    for m, found, node, is_pod in resolved:
        group = (m.cluster, m.group or "")
        svc = found or groups.get(group)
        if svc is None:
            continue
        if m.state == GROUP_CREATED:  # no membership: it only tied the group to the Service
            continue
        if m.state == "group-deleted":
            for gone, targets in sorted(held.pop(group, {}).items()):
                if targets:
                    out[(svc, gone)].append(Sample(m.at_us, None, "deregistered", m.event_id))
            continue
        if node is None:
            continue
        if is_pod:
            state.memo.pod_targets.add((svc, node))
        targets = held.setdefault(group, {}).setdefault(node, set())
        target = m.target or node
        if m.state == REGISTERED:
            if targets:  # the node was registered already (another of its pods)
                targets.add(target)
                continue
            targets.add(target)
            value = REGISTERED
        else:
            targets.discard(target)
            if targets:  # another of the node's targets is still registered
                continue
            value = "deregistered"
        out.setdefault((svc, node), []).append(Sample(m.at_us, None, value, m.event_id))
    state.memo.members.append(out)
    return out


def membership_steps(samples: Sequence[Sample]) -> list[Step]:
    """The membership changes, each within +-1 s of its eventTime; repeated calls (a second
    RegisterTargets of a registered target) change nothing. The first change is kept whatever
    its value (the trail may begin with a deregistration)."""
    steps: list[Step] = []
    for s in sorted_lane(list(samples)):
        up = s.value == REGISTERED
        if steps and steps[-1].value is up:
            continue
        r = EVENT_TIME_RESOLUTION_US
        steps.append(Step(s.at_us - r, s.at_us + r, up, s.event_id))
    return steps


def membership_routed(
    samples: Sequence[Sample], before: Tri, health: Tri, lo_us: int, hi_us: int
) -> Tri:
    """R from membership: before the first call `before` (the inferred R); from it on, the
    membership (its effect `lo_us..hi_us` after each call) and `health` (where the LB's health
    check passes: possible everywhere when no health check is known)."""
    steps = membership_steps(samples)
    if not steps:
        return before
    first = steps[0].earliest
    # a trail that begins with a deregistration: the target was registered until then
    initial = not steps[0].value
    member = tri_from_steps(shifted(steps, lo_us, hi_us), initial)
    until, since = [Iv(LO, first)], [Iv(first, HI)]
    return t_or(t_and(before, Tri(until, until)), t_and(t_and(member, health), Tri(since, since)))


#: No health check known: the LB's health is possibly passing anywhere, definitely nowhere.
HEALTH_UNKNOWN = Tri([Iv(LO, HI)], [])
