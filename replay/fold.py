"""The fold: facts (recorder/facts.py rows) into per-(service, node) lane samples.

Pure: no database, clock or I/O. `fold(state, facts)` appends to `state` and returns it; folding
in chunks equals folding at once, and every lane is fed by exactly one source, so the order of
equal-time facts from different sources does not matter. Interpreting the samples (signals,
windows, segments) happens later, in replay.signals and replay.detect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from replay.model import ServiceRef

#: Lane sample sources in the state (facts of one kind each).
PROBE_FACTS = ("health", "nodeport", "target")


class Sample(NamedTuple):
    """One observed value: seen at `at_us`; `prev_us` the last look that saw the old value."""

    at_us: int
    prev_us: int | None
    value: str
    event_id: int
    num: int | None = None


class PodSample(NamedTuple):
    at_us: int
    state: str  # pending / ready / terminating / gone
    deletion_us: int | None
    grace_s: int | None
    prestop_ms: int | None
    event_id: int
    owner: str | None
    revision: str | None


@dataclass(slots=True)
class ServiceInfo:
    """What the Service objects said (the last version seen)."""

    type: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    deleted: bool = False


LaneKey = tuple[ServiceRef, str]


@dataclass(slots=True)
class FoldState:
    """Everything replay keeps from the facts; see the module docstring."""

    services: dict[ServiceRef, ServiceInfo] = field(default_factory=dict)
    #: per Service, per slice: the current per-node (ready, serving-terminating, pods)
    slices: dict[ServiceRef, dict[str, dict[str, tuple[int, int, str]]]] = field(
        default_factory=dict
    )
    endpoints: dict[LaneKey, list[Sample]] = field(default_factory=dict)
    probes: dict[str, dict[LaneKey, list[Sample]]] = field(
        default_factory=lambda: {k: {} for k in PROBE_FACTS}
    )
    access: dict[LaneKey, list[Sample]] = field(default_factory=dict)
    pods: dict[tuple[str, str, str], list[PodSample]] = field(default_factory=dict)
    #: pods named by a Service's EndpointSlices, with the node they were on
    service_pods: dict[ServiceRef, dict[str, str]] = field(default_factory=dict)
    nodes: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    node_versions: dict[tuple[str, str], str] = field(default_factory=dict)
    events: dict[ServiceRef, list[Sample]] = field(default_factory=dict)
    workloads: dict[tuple[str, str, str], tuple[str, str | None]] = field(default_factory=dict)
    last_event_id: int = 0
    last_at_us: dict[ServiceRef, int] = field(default_factory=dict)
    #: memo of values detection derives from the whole state; every fold clears it
    cache: dict[tuple[str, str], object] = field(default_factory=dict)


def _eps_state(ready: int, serving: int) -> str:
    if ready > 0:
        return "ready"
    return "serving-terminating" if serving > 0 else "none"


def _node_counts(slices: dict[str, dict[str, tuple[int, int, str]]], node: str) -> tuple[int, int]:
    ready = serving = 0
    for per_node in slices.values():
        if node in per_node:
            r, s, _ = per_node[node]
            ready += r
            serving += s
    return ready, serving


def _touch(state: FoldState, svc: ServiceRef, at_us: int) -> None:
    if at_us > state.last_at_us.get(svc, 0):
        state.last_at_us[svc] = at_us


def _apply_slice(state: FoldState, rows: list[Sequence[Any]]) -> None:
    """One EndpointSlice version: its header row then one row per node."""
    head = rows[0]
    svc = ServiceRef(head[2], head[8] or "", head[9] or "")
    slices = state.slices.setdefault(svc, {})
    old = slices.get(head[16] or "", {})
    new: dict[str, tuple[int, int, str]] = {}
    if head[7] != "DELETED":
        for row in rows[1:]:
            new[row[10]] = (row[12] or 0, row[13] or 0, row[17] or "")
    slices[head[16] or ""] = new
    known = state.service_pods.setdefault(svc, {})
    for node, (_r, _s, pods) in new.items():
        for pod in pods.split(","):
            if pod:
                known[pod] = node
    at_us, event_id = head[3], head[0]
    _touch(state, svc, at_us)
    for node in sorted(set(old) | set(new)):
        ready, serving = _node_counts(slices, node)
        value = _eps_state(ready, serving)
        lane = state.endpoints.setdefault((svc, node), [])
        if not lane or lane[-1].value != value:
            lane.append(Sample(at_us, None, value, event_id, ready))


def fold(state: FoldState, facts: Iterable[Sequence[Any]]) -> FoldState:
    """Fold fact rows (columns as recorder.facts.FACT_COLUMNS), whole events in id order.

    A chunk must not split one event's facts (the loader reads whole events).
    """
    pending: list[Sequence[Any]] = []
    probes = state.probes
    state.cache.clear()
    for row in facts:
        kind = row[6]
        if pending and (kind != "slice" or row[1] == 0):
            _apply_slice(state, pending)
            pending = []
        if row[0] > state.last_event_id:
            state.last_event_id = row[0]
        if kind in probes:
            svc = ServiceRef(row[2], row[8] or "", row[9] or "")
            lane = probes[kind].setdefault((svc, row[10] or ""), [])
            at_us = row[3]
            if kind == "nodeport" and row[12]:
                # the answer describes the moment the probe was sent, `latency` before it came
                at_us = max(at_us - row[12], row[4] or at_us - row[12])
            lane.append(Sample(at_us, row[4], row[11] or "", row[0], row[12]))
            if row[3] > state.last_at_us.get(svc, 0):
                state.last_at_us[svc] = row[3]
        elif kind == "slice":
            pending.append(row)
        elif kind == "pod":
            key = (row[2], row[8] or "", row[9] or "")
            state.pods.setdefault(key, []).append(
                PodSample(row[3], row[11], row[12], row[13], row[14], row[0], row[16], row[17])
            )
        elif kind == "node":
            state.nodes.setdefault((row[2], row[9] or ""), []).append(
                Sample(row[3], None, row[11] or "Unknown", row[0], row[12])
            )
            if row[16]:
                state.node_versions[(row[2], row[9] or "")] = row[16]
        elif kind == "service":
            svc = ServiceRef(row[2], row[8] or "", row[9] or "")
            state.services[svc] = ServiceInfo(row[11], row[16], row[12], row[7] == "DELETED")
        elif kind == "event":
            svc = ServiceRef(row[2], row[8] or "", row[9] or "")
            when = row[5] if row[5] is not None else row[3]
            state.events.setdefault(svc, []).append(
                Sample(row[3], when, row[11] or "", row[0], None)
            )
        elif kind == "workload":
            state.workloads[(row[2], row[8] or "", row[9] or "")] = (row[11], row[16])
        elif kind == "access":
            svc = ServiceRef(row[2], row[8] or "", row[9] or "")
            # an access-log line is shipped later; its own time is when the request was made
            when = row[5] if row[5] is not None else row[3]
            state.access.setdefault((svc, row[10] or ""), []).append(
                Sample(when, row[4], row[11] or "", row[0], None)
            )
    if pending:
        _apply_slice(state, pending)
    return state


def lb_facing(state: FoldState) -> list[ServiceRef]:
    """Services that matter: eTP Local NodePort/LoadBalancer ones, or any with probe/LB data."""
    found = {
        svc
        for svc, info in state.services.items()
        if info.external_traffic_policy == "Local" and info.type in ("LoadBalancer", "NodePort")
    }
    for lanes in state.probes.values():
        found.update(svc for svc, _node in lanes)
    return sorted(found)


def sorted_lane(samples: list[Sample]) -> list[Sample]:
    """Samples in time order (late-arriving ones slot in); equal times keep id order."""
    if all(samples[i].at_us <= samples[i + 1].at_us for i in range(len(samples) - 1)):
        return samples
    return sorted(samples, key=lambda s: (s.at_us, s.event_id))
