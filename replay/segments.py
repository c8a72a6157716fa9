"""Lane segments for timelines and "replay at T": what each lane of each node held, and when.

Lanes (docs/semantics.md): endpoints (ready / serving-terminating / none), proxy (OPEN / REFUSED
/ CLOSED / DOWN, measured by the probes, or inferred from the endpoints lane: OPEN / CLOSED /
UNKNOWN), lb (ABSENT / INITIAL / HEALTHY / UNHEALTHY / DRAINING / UNUSED from the poller;
REGISTERED / DEREGISTERED from CloudTrail when no poller looked: membership, health unknown),
pod (serving / terminating / unready / gone) and node (Ready / NotReady). A lane from probes or
polls draws UNKNOWN between the look that last saw the old value and the one that saw the new
(`looked_between`). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.context import nodes_of
from gapwatch.replay.fold import FoldState, PodSample, Sample, sorted_lane
from gapwatch.replay.membership import EVENT_TIME_RESOLUTION_US, member_lanes
from gapwatch.replay.model import Lane, Provenance, Segment, ServiceRef
from gapwatch.replay.podstate import ALIVE
from gapwatch.replay.programmed_lane import programmed_segments

#: a NodePort look's proxy value: `connected` forwards to a live pod, `timeout` has no rules (or
#: the node is down), `refused`/`reset` has rules to no live pod (REFUSED: the node answered, but
#: nothing behind it served; drawn as OPEN before session 32, which beside a new pod's `serving`
#: read as the node serving inside the window that look proved)
_PROXY_FROM_PROBE = {
    "connected": "OPEN", "refused": "REFUSED", "reset": "REFUSED", "timeout": "CLOSED",
}  # fmt: skip
#: a sampled lane's value between the last look that saw the old value and the first that
#: saw the new one (`looked_between`)
UNKNOWN = "UNKNOWN"


def _proxy_health(value: str) -> str:
    if value == "200":
        return "OPEN"
    return "CLOSED" if value.isdigit() else "DOWN"


def _segments(
    svc: ServiceRef,
    node: str,
    lane: Lane,
    samples: Sequence[Sample],
    mapping: Callable[[str], str],
    provenance: Provenance,
    lag_us: int = 0,
    sampled: bool = False,
) -> list[Segment]:
    """The lane's segments (`sampled`: its source looks now and then, a probe or the LB's
    target polls: each change drawn with its sampling uncertainty, `looked_between`)."""
    changes = lane_changes(samples, mapping, lag_us)
    if sampled:
        changes = looked_between(changes)
    # each segment ends where the next one starts (built once: this runs on every refresh)
    ends: list[int | None] = [c[1] for c in changes[1:]]
    if changes:
        ends.append(None)
    return [
        Segment(svc, node, lane, value, start, end, earliest, start, provenance, eid)
        for (value, start, earliest, eid), end in zip(changes, ends, strict=True)
    ]


#: a lane's change: (value, start, earliest, event id)
Change = tuple[str, int, int, int]


def lane_changes(
    samples: Iterable[Sample],
    mapping: Callable[[str], str],
    lag_us: int = 0,
    value: str | None = None,
) -> list[Change]:
    """The samples where the lane's (mapped) value changes, in their order (`value`: the
    lane's value before them, None: none)."""
    changes: list[Change] = []
    for s in samples:
        mapped = mapping(s.value)
        if mapped == value:
            continue
        value = mapped
        # A sampled source says when it last saw the old value (prev_us); a watch stream sees a
        # change as it happens, so its observation time is the change's time.
        earliest = s.prev_us if s.prev_us is not None else s.at_us
        changes.append((mapped, s.at_us + lag_us, earliest, s.event_id))
    return changes


def looked_between(changes: list[Change], before: int | None = None) -> list[Change]:
    """A sampled lane's `changes` with what its looks do not know drawn: before each change
    whose source last saw the old value earlier (`earliest` < its start), `UNKNOWN` from that
    look (not before the previous change's start) to the change, the change itself starting
    somewhere in it (`earliest` kept). `before`: the start of the lane's value before
    `changes` (None: the lane begins with them, and its first change claims nothing before
    it). The change where the first look saw a value is where the value is known to hold."""
    out: list[Change] = []
    for value, start, earliest, eid in changes:
        if before is not None and earliest < start:
            began = max(earliest, before)
            out.append((UNKNOWN, began, began, eid))
        out.append((value, start, earliest, eid))
        before = start
    return out


def _pod_samples(
    state: FoldState, svc: ServiceRef, node: str, pods: Sequence[str] | None = None
) -> list[Sample]:
    """The node's pod lane: at each change of one of its pods (`pods`: the Service's pods on
    the node, None: found from `service_pods`), serving if one of them is ready, else
    terminating if one is, else unready if one runs not Ready (a readiness loss: up, not
    forwarded to), else gone (counted as they change, not rescanned per change). A pod that
    crashed and restarted between two status writes counts as none from the old container's
    finishedAt to the new one's startedAt (`pod_entries`)."""
    if pods is None:
        pods = [p for p, n in state.service_pods.get(svc, {}).items() if n == node]
    entries: list[tuple[int, str, int, str, int]] = []
    for pod in pods:
        samples = state.pods.get((svc.cluster, svc.namespace, pod), [])
        entries += [(at, pod, order, s, eid) for at, order, s, eid in pod_entries(samples)]
    return counted_pods(entries, {})


#: one pod's entry in the pod lane: (time, its order among the pod's entries, state, event id)
PodEntry = tuple[int, int, str, int]
#: the state of a pod that crashed and restarted between two status writes, from the old
#: container's finishedAt to the new one's startedAt: counted as none
RESTARTING = "restarting"


def pod_entries(samples: Sequence[PodSample], start: int = 0) -> list[PodEntry]:
    """The pod's entries from its sample `start` on, in the samples' order: each sample's
    state at its time; before a sample marked restarted (podstate.restarted) that follows one
    that saw the pod alive, none from its finishedAt and the state before again from its
    startedAt, each within the two updates as the detector's alive lane places them
    (context._pods_changes): the stop and the new start no update showed."""
    out: list[PodEntry] = []
    for i in range(start, len(samples)):
        p = samples[i]
        if i and p.started_us is not None and p.state in ALIVE:
            before = samples[i - 1]
            if before.state in ALIVE:
                down = min(max(p.finished_us or p.at_us, before.at_us + 1), p.at_us - 1)
                up = min(max(p.started_us, down + 1), p.at_us)
                out.append((down, 3 * i, RESTARTING, p.event_id))
                out.append((up, 3 * i + 1, before.state, p.event_id))
        out.append((p.at_us, 3 * i + 2, p.state, p.event_id))
    return out


def counted_pods(
    entries: list[tuple[int, str, int, str, int]], current: dict[str, str]
) -> list[Sample]:
    """The pod lane's samples at `entries` ((time, pod, order, state, event id), sorted here
    by time, then pod, then the pod's own order), each pod's state before them in `current`
    (updated)."""
    counts = {"serving": 0, "terminating": 0, "unready": 0}
    for pod_state in current.values():
        held = _RANK.get(pod_state)
        if held is not None:
            counts[held] += 1
    out: list[Sample] = []
    entries.sort()
    for at, pod, _order, pod_state, eid in entries:
        was = _RANK.get(current.get(pod, ""))
        if was is not None:
            counts[was] -= 1
        current[pod] = pod_state
        now = _RANK.get(pod_state)
        if now is not None:
            counts[now] += 1
        best = next((lane for lane in _ORDER if counts[lane]), "gone")
        out.append(Sample(at, None, best, eid))
    return out


_RANK = {"ready": "serving", "terminating": "terminating", "unready": "unready"}
#: the pod lane's states, best first (the first any local pod holds; else gone)
_ORDER = ("serving", "terminating", "unready")


def pods_by_node(state: FoldState, svc: ServiceRef) -> dict[str, list[str]]:
    """The Service's pods per node (as the EndpointSlices placed them)."""
    out: dict[str, list[str]] = {}
    for pod, node in state.service_pods.get(svc, {}).items():
        out.setdefault(node, []).append(pod)
    return out


#: what each lane's segments read of a node's lane versions (replay.checkpoint.lane_versions:
#: the endpoints, the health, NodePort and target lanes, the Node, the local pods, (6) what
#: the proxy lane without probes reads besides the endpoints and pods
#: (replay.programmed_lane.programmed_inputs), the pods' listings),
#: besides the Service's first LB poll and its CloudTrail membership lanes
_READS: dict[Lane, tuple[int, ...]] = {
    "endpoints": (0,), "proxy": (0, 1, 2, 5, 6, 7), "lb": (3,), "pod": (5,), "node": (4,),
}  # fmt: skip


def moved_lanes(before: tuple[Any, ...], after: tuple[Any, ...]) -> frozenset[Lane]:
    """The lanes of a node whose segments can differ between two of its lane versions."""
    if len(before) != len(after):  # versions from an older release: every lane may move
        return frozenset(_READS)
    return frozenset(
        lane for lane, reads in _READS.items() if any(before[i] != after[i] for i in reads)
    )


def lane_segments(
    state: FoldState,
    svc: ServiceRef,
    nodes: Sequence[str] | None = None,
    settings: DetectSettings = DEFAULTS,
    lanes: Mapping[str, frozenset[str] | None] | None = None,
) -> list[Segment]:
    """Every lane of every (chosen) node of the Service, in time order (`lanes`: per node, the
    only lanes wanted; None there or no entry: all)."""
    out: list[Segment] = []
    wanted = set(nodes) if nodes else None
    polls = [lane[0].at_us for (ref, _n), lane in state.probes["target"].items() if ref == svc]
    first_poll = min(polls) if polls else None
    local: dict[str, list[str]] | None = None  # found once, if a pod lane is wanted
    for node in nodes_of(state, svc):
        if wanted is not None and node not in wanted:
            continue
        only = lanes.get(node) if lanes is not None else None
        if only is None:
            only = _ALL
        key = (svc, node)
        eps = state.endpoints.get(key, [])
        if "endpoints" in only:
            out += _segments(svc, node, "endpoints", eps, str, "measured")
        if "proxy" in only:
            out += _proxy_segments(state, key, eps, settings)
        if "lb" in only:
            # the target polls' changes with their sampling uncertainty (CloudTrail's calls
            # name their own time, within its resolution: drawn at it)
            out += _segments(svc, node, "lb", _lb_samples(state, key, first_poll), str.upper,
                             "measured", sampled=first_poll is not None)  # fmt: skip
        if "pod" in only:
            if local is None:
                local = pods_by_node(state, svc)
            pods = _pod_samples(state, svc, node, local.get(node, []))
            out += _segments(svc, node, "pod", pods, str, "measured")
        if "node" in only:
            node_lane = state.nodes.get((svc.cluster, node), [])
            out += _segments(svc, node, "node", node_lane, str, "measured")
    out.sort(key=lambda s: (s.node, s.lane, s.start_us))
    return out


_ALL: frozenset[str] = frozenset(_READS)


def _proxy_segments(
    state: FoldState, key: tuple[ServiceRef, str], eps: Sequence[Sample], settings: DetectSettings
) -> list[Segment]:
    svc, node = key
    for kind in ("nodeport", "health"):
        probes = sorted_lane(state.probes[kind].get(key, []))
        if probes:
            mapping = probe_proxy(kind)
            return _segments(svc, node, "proxy", probes, mapping, "measured", sampled=True)
    return programmed_segments(state, svc, node, eps, settings)


def probe_proxy(kind: str) -> Callable[[str], str]:
    """The proxy lane's value of a NodePort (`kind` nodeport) or health-check probe's."""
    if kind == "nodeport":
        return lambda v: _PROXY_FROM_PROBE.get(v, "DOWN")
    return _proxy_health


def _lb_samples(
    state: FoldState, key: tuple[ServiceRef, str], first_poll: int | None
) -> list[Sample]:
    targets = sorted_lane(state.probes["target"].get(key, []))
    if first_poll is not None and (not targets or targets[0].at_us > first_poll):
        # the poller was looking and this node was no target yet
        targets = [Sample(first_poll, None, "absent", 0), *targets]
    if first_poll is None and not targets:
        # no poller: CloudTrail's calls, each within +-1 s of its eventTime (health unknown)
        r = EVENT_TIME_RESOLUTION_US
        calls = member_lanes(state).get(key, [])
        targets = [c._replace(prev_us=c.at_us - r) for c in sorted_lane(calls)]
    return targets


def state_at(segments: Sequence[Segment], at_us: int) -> list[Segment]:
    """The segments that hold at `at_us` (one per lane per node at most)."""
    return [s for s in segments if s.start_us <= at_us and (s.end_us is None or at_us < s.end_us)]
