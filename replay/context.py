"""What detection derives about a Service before looking at windows: which CCM mode the LB
follows, the pods backing the Service on a node and whether they are up, the endpoints and Node
lanes as steps. Pure; results that need the whole state are memoized in `FoldState.memo`.
(ProxyTerminatingEndpoints and kube-proxy's lag bound, which need the measured lags, are in
replay.proxy.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, PodLanes, Sample
from gapwatch.replay.membership import member_lanes, node_driven_by_trail
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.podstate import ALIVE
from gapwatch.replay.signals import Step, exact_steps


def ccm_mode(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> str:
    """node-driven when the LB health-checks the Service's healthCheckNodePort (a target
    group whose HealthCheckPort is it, polled or created in CloudTrail: the upstream and AWS
    way) or ever reported health-check states (initial/unhealthy), else endpoint-driven."""
    if settings.ccm_mode:
        return settings.ccm_mode
    key = (svc, settings.ccm_mode)
    known = state.memo.ccm_mode.get(key)
    if known is None:
        targets = state.probes["target"]
        lanes = (targets.get((svc, n), ()) for n in state.service_nodes.get(svc, ()))
        info = state.services.get(svc)
        ports = info.health_check_ports if info is not None else frozenset()
        checks = any(
            s.value in ("initial", "unhealthy") or s.num in ports for lane in lanes for s in lane
        )
        checks = checks or node_driven_by_trail(state, svc)
        known = state.memo.ccm_mode[key] = "node" if checks else "endpoint"
    return known


def local_pods(state: FoldState, svc: ServiceRef, node: str) -> list[str]:
    """The pods backing the Service that ran on the node (per Service index, cached)."""
    index = state.memo.local_pods.get(svc)
    if index is None:
        index = state.memo.local_pods[svc] = {}
        for pod, pod_node in state.service_pods.get(svc, {}).items():
            index.setdefault(pod_node, []).append(pod)
    return sorted(index.get(node, []))


def pod_lanes(state: FoldState, svc: ServiceRef, node: str) -> PodLanes:
    """The node's local pods with their sample lists (append-only) and lengths."""
    out = []
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod))
        if lane is not None:
            out.append((pod, lane, len(lane)))
    return out


def _same(a: PodLanes, b: PodLanes) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and x[1] is y[1] and x[2] == y[2] for x, y in zip(a, b, strict=True)
    )


def kept_by_pods(
    state: FoldState, key: tuple[ServiceRef, str, str, int | None], find: Callable[[], list[Any]]
) -> list[Any]:
    """`find()` (what the node's local pods' samples give, `key`: the Service, the node and
    which reading), kept in the memo across folds while the node's pods and their sample lists
    are the same, as long (the lists only grow): a pod's new sample, a pod new to the node or
    gone from it finds it again; a copy."""
    svc, node = key[0], key[1]
    lanes = pod_lanes(state, svc, node)
    known = state.memo.pod_deaths.get(key)
    if known is None or not _same(known[0], lanes):
        known = state.memo.pod_deaths[key] = (lanes, find())
    return list(known[1])


def alive_steps(state: FoldState, svc: ServiceRef, node: str) -> list[Step]:
    """Whether any local pod backing the Service is still up (ready or terminating, or not
    ready after that while its kubelet reports it running: replay.podstate); kept while the
    node's local pods' samples are (`kept_by_pods`)."""
    found: list[Step] = kept_by_pods(
        state,
        (svc, node, "alive", None),
        lambda: exact_steps(_pods_changes(state, svc, node, ALIVE, restarts=True), False),
    )
    return found


def terminating_pod_steps(state: FoldState, svc: ServiceRef, node: str) -> list[Step]:
    """Whether any local pod backing the Service is terminating (its deletion requested) and
    not yet gone, as its Pod updates say (replay.uncounted)."""
    return exact_steps(_pods_changes(state, svc, node, ("terminating",)), False)


def ready_pod_steps(state: FoldState, svc: ServiceRef, node: str, skew_us: int) -> list[Step]:
    """Whether any local pod backing the Service is ready and not terminating, as its Pod
    updates say. A loss may have come up to `skew_us` before its update was seen (and, where a
    CCM holds the deletion until it has acted, the CCM's reaction before it: Tencent's
    enable-grace-deletion), so a loss counts from `skew_us` before it was seen. Kept while
    the node's local pods' samples are (`kept_by_pods`: a node moved by its LB polls alone
    reads R from it again, replay.routed)."""
    found: list[Step] = kept_by_pods(
        state, (svc, node, "ready", skew_us), lambda: _ready_steps(state, svc, node, skew_us)
    )
    return found


def _ready_steps(state: FoldState, svc: ServiceRef, node: str, skew_us: int) -> list[Step]:
    return [
        s if s.value else s._replace(earliest=s.earliest - skew_us, latest=s.latest - skew_us)
        for s in exact_steps(_pods_changes(state, svc, node, ("ready",)), False)
    ]


def _pods_changes(
    state: FoldState, svc: ServiceRef, node: str, states: tuple[str, ...], restarts: bool = False
) -> list[tuple[int, bool, int]]:
    """(time, whether any local pod is in one of `states`, event id) at each Pod update that
    changes it; with `restarts`, a pod that crashed and restarted between two updates
    (podstate.restarted) leaves them from its kubelet's finishedAt to the new container's
    startedAt, each within the two updates."""
    changes: list[tuple[int, int, int]] = []
    for pod in local_pods(state, svc, node):
        inside = False
        before: int | None = None
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            now = p.state in states
            if restarts and inside and now and p.started_us is not None and before is not None:
                down = min(max(p.finished_us or p.at_us, before + 1), p.at_us - 1)
                up = min(max(p.started_us, down + 1), p.at_us)
                changes += [(down, -1, p.event_id), (up, 1, p.event_id)]
            before = p.at_us
            if now != inside:
                changes.append((p.at_us, 1 if now else -1, p.event_id))
                inside = now
    count, out = 0, []
    for at, delta, eid in sorted(changes):
        count += delta
        out.append((at, count > 0, eid))
    return out


def eps_steps(lane: Sequence[Sample], accept: tuple[str, ...]) -> list[Step]:
    return exact_steps([(s.at_us, s.value in accept, s.event_id) for s in lane], False)


def endpoint_steps(
    state: FoldState, svc: ServiceRef, node: str, accept: tuple[str, ...]
) -> list[Step]:
    """`eps_steps` of the node's endpoints lane, found once per fold (a moved node's lanes read
    it four times: replay.lanes, replay.unseen, replay.routed) and while the lane is the same
    list, as long (a copy: the callers own what they get)."""
    lane = state.endpoints.get((svc, node), [])
    key = (svc, node, accept)
    known = state.memo.eps_steps.get(key)
    if known is None or known[0] is not lane or known[1] != len(lane):
        known = state.memo.eps_steps[key] = (lane, len(lane), eps_steps(lane, accept))
    return list(known[2])


def node_ready_steps(
    state: FoldState, cluster: str, node: str, settings: DetectSettings
) -> list[Step]:
    """The Node's Ready condition. A node seen NotReady (or deleted) may have stopped serving up
    to node_grace_s before the node controller wrote that (it waits that long for a missed
    heartbeat), and the write up to the watch skew before the recorder's watch delivered it
    (as replay.detect reads a node that went down: random 29,000,025 node-003, seen 0.09 s
    after the grace, and 53 more of that set's misses without probes)."""
    lane = state.nodes.get((cluster, node), [])
    steps = exact_steps([(s.at_us, s.value == "Ready", s.event_id) for s in lane], True)
    grace = seconds_us(settings.node_grace_s) + seconds_us(settings.watch_skew_s)
    out: list[Step] = []
    for s in steps:
        if not s.value:
            floor = out[-1].latest if out else s.latest - grace
            s = s._replace(earliest=max(floor, s.latest - grace))
        out.append(s)
    return out


def node_gone_steps(state: FoldState, cluster: str, node: str, reach_us: int) -> list[Step]:
    """Whether the Node object still exists: a deleted node serves nothing, and may have
    stopped up to `reach_us` before its deletion was seen (the larger of the watch skew and
    the probe period: a look one period earlier still got an answer)."""
    lane = state.nodes.get((cluster, node), [])
    changes = [(s.at_us, s.value != "Deleted", s.event_id) for s in lane]
    return [
        s._replace(earliest=s.latest - reach_us) if not s.value else s
        for s in exact_steps(changes, True)
    ]


def nodes_of(state: FoldState, svc: ServiceRef) -> list[str]:
    """The Service's nodes: those with an endpoints or probe lane, and those the LB held (in
    CloudTrail), a node known only by its instance id included."""
    nodes = set(state.service_nodes.get(svc, ()))
    if state.members:
        nodes.update(n for ref, n in member_lanes(state) if ref == svc)
    return sorted(n for n in nodes if n)
