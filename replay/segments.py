"""Lane segments for timelines and "replay at T": what each lane of each node held, and when.

Lanes (docs/semantics.md): endpoints (ready / serving-terminating / none), proxy (OPEN / CLOSED /
DOWN, measured by the probes or inferred from the endpoints lane), lb (ABSENT / INITIAL / HEALTHY
/ UNHEALTHY / DRAINING / UNUSED from the poller; REGISTERED / DEREGISTERED from CloudTrail when no
poller looked: membership, health unknown), pod (serving / terminating / gone) and node (Ready /
NotReady). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.context import nodes_of
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.membership import EVENT_TIME_RESOLUTION_US, member_lanes
from gapwatch.replay.model import Lane, Provenance, Segment, ServiceRef

_PROXY_FROM_PROBE = {"connected": "OPEN", "refused": "OPEN", "reset": "OPEN", "timeout": "CLOSED"}


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
) -> list[Segment]:
    changes: list[tuple[str, int, int, int]] = []  # (value, start, earliest, event id)
    for s in samples:
        value = mapping(s.value)
        if changes and changes[-1][0] == value:
            continue
        # A sampled source says when it last saw the old value (prev_us); a watch stream sees a
        # change as it happens, so its observation time is the change's time.
        earliest = s.prev_us if s.prev_us is not None else s.at_us
        changes.append((value, s.at_us + lag_us, earliest, s.event_id))
    # each segment ends where the next one starts (built once: this runs on every refresh)
    ends: list[int | None] = [c[1] for c in changes[1:]]
    ends.append(None)
    if not changes:
        return []
    return [
        Segment(svc, node, lane, value, start, end, earliest, start, provenance, eid)
        for (value, start, earliest, eid), end in zip(changes, ends, strict=True)
    ]


def _pod_samples(
    state: FoldState, svc: ServiceRef, node: str, pods: Sequence[str] | None = None
) -> list[Sample]:
    """The node's pod lane: at each change of one of its pods (`pods`: the Service's pods on
    the node, None: found from `service_pods`), serving if one of them is ready, else
    terminating if one is, else gone (counted as they change, not rescanned per change)."""
    if pods is None:
        pods = [p for p, n in state.service_pods.get(svc, {}).items() if n == node]
    changes: list[tuple[int, str, str, int]] = []
    for pod in pods:
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            changes.append((p.at_us, pod, p.state, p.event_id))
    current: dict[str, str] = {}
    counts = {"serving": 0, "terminating": 0}
    out: list[Sample] = []
    for at, pod, pod_state, eid in sorted(changes):
        was = _RANK.get(current.get(pod, ""))
        if was is not None:
            counts[was] -= 1
        current[pod] = pod_state
        now = _RANK.get(pod_state)
        if now is not None:
            counts[now] += 1
        best = (
            "serving" if counts["serving"] else "terminating" if counts["terminating"] else "gone"
        )
        out.append(Sample(at, None, best, eid))
    return out


_RANK = {"ready": "serving", "terminating": "terminating"}


def pods_by_node(state: FoldState, svc: ServiceRef) -> dict[str, list[str]]:
    """The Service's pods per node (as the EndpointSlices placed them)."""
    out: dict[str, list[str]] = {}
    for pod, node in state.service_pods.get(svc, {}).items():
        out.setdefault(node, []).append(pod)
    return out


def lane_segments(
    state: FoldState,
    svc: ServiceRef,
    nodes: Sequence[str] | None = None,
    settings: DetectSettings = DEFAULTS,
) -> list[Segment]:
    """Every lane of every (chosen) node of the Service, in time order."""
    out: list[Segment] = []
    wanted = set(nodes) if nodes else None
    polls = [lane[0].at_us for (ref, _n), lane in state.probes["target"].items() if ref == svc]
    first_poll = min(polls) if polls else None
    local = pods_by_node(state, svc)
    for node in nodes_of(state, svc):
        if wanted is not None and node not in wanted:
            continue
        key = (svc, node)
        eps = state.endpoints.get(key, [])
        out += _segments(svc, node, "endpoints", eps, str, "measured")
        nodeport = sorted_lane(state.probes["nodeport"].get(key, []))
        health = sorted_lane(state.probes["health"].get(key, []))
        if nodeport:
            out += _segments(
                svc, node, "proxy", nodeport, lambda v: _PROXY_FROM_PROBE.get(v, "DOWN"), "measured"
            )
        elif health:
            out += _segments(svc, node, "proxy", health, _proxy_health, "measured")
        else:
            lag = round(settings.proxy_lag_s[1] * 1_000_000)
            out += _segments(
                svc, node, "proxy", eps,
                lambda v: "OPEN" if v != "none" else "CLOSED", "inferred", lag,
            )  # fmt: skip
        targets = sorted_lane(state.probes["target"].get(key, []))
        if first_poll is not None and (not targets or targets[0].at_us > first_poll):
            # the poller was looking and this node was no target yet
            targets = [Sample(first_poll, None, "absent", 0), *targets]
        if first_poll is None and not targets:
            # no poller: CloudTrail's calls, each within +-1 s of its eventTime (health unknown)
            r = EVENT_TIME_RESOLUTION_US
            calls = member_lanes(state).get(key, [])
            targets = [c._replace(prev_us=c.at_us - r) for c in sorted_lane(calls)]
        out += _segments(svc, node, "lb", targets, str.upper, "measured")
        out += _segments(
            svc, node, "pod", _pod_samples(state, svc, node, local.get(node, [])), str, "measured"
        )
        node_lane = state.nodes.get((svc.cluster, node), [])
        out += _segments(svc, node, "node", node_lane, str, "measured")
    out.sort(key=lambda s: (s.node, s.lane, s.start_us))
    return out


def state_at(segments: Sequence[Segment], at_us: int) -> list[Segment]:
    """The segments that hold at `at_us` (one per lane per node at most)."""
    return [s for s in segments if s.start_us <= at_us and (s.end_us is None or at_us < s.end_us)]
