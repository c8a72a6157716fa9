"""Grouping: rollouts (revision changes of the workload behind a Service) and node disruptions.

A rollout runs from the new revision's first pod until the old revision's last pod is gone, and
on until the last window that started inside it has closed (the LB settling). A node disruption
runs from a node turning NotReady, unschedulable or deleted until it is Ready again. A window
belongs to the first group whose span holds its start. Ids are content hashes, so a rebuild and
an incremental update name the same group the same way. Pure.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise
from typing import NamedTuple

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings, seconds_us
from gapwatch.replay.context import nodes_of
from gapwatch.replay.fold import FoldState, PodSample, horizon, lb_facing
from gapwatch.replay.model import Rollout, ServiceRef, Window


class Pod(NamedTuple):
    name: str
    node: str
    revision: str
    workload: str
    first_us: int
    gone_us: int | None


def group_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest[:12]}"


def _workload(state: FoldState, svc: ServiceRef, owner: str | None, revision: str) -> str:
    if not owner:
        return f"Pod/{svc.namespace}/?"
    kind, _, name = owner.partition("/")
    if kind == "ReplicaSet":
        known = state.workloads.get((svc.cluster, svc.namespace, name))
        if known and known[1]:
            return f"{known[1].replace('/', '/' + svc.namespace + '/', 1)}"
        suffix = f"-{revision}"
        return f"Deployment/{svc.namespace}/{name.removesuffix(suffix)}"
    return f"{kind}/{svc.namespace}/{name}"


def owner_of(samples: Sequence[PodSample]) -> str | None:
    """The pod's owner as its latest sample naming one gives it."""
    return next((p.owner for p in reversed(samples) if p.owner), None)


def workload_key(svc: ServiceRef, owner: str | None) -> tuple[str, str, str] | None:
    """The `FoldState.workloads` entry a pod's workload name reads (its ReplicaSet's)."""
    kind, _, name = (owner or "").partition("/")
    return (svc.cluster, svc.namespace, name) if kind == "ReplicaSet" else None


def pod_of(state: FoldState, svc: ServiceRef, name: str, node: str) -> Pod | None:
    """One pod of the Service from its samples (None: none seen); reads its samples and the
    workload at `workload_key` only."""
    samples = state.pods.get((svc.cluster, svc.namespace, name))
    if not samples:
        return None
    revision = next((p.revision for p in reversed(samples) if p.revision), "") or ""
    owner = owner_of(samples)
    gone = next((p.at_us for p in samples if p.state == "gone"), None)
    workload = _workload(state, svc, owner, revision)
    return Pod(name, node, revision, workload, samples[0].at_us, gone)


def pod_order(p: Pod) -> tuple[int, str]:
    return p.first_us, p.name


def pods_of(state: FoldState, svc: ServiceRef) -> list[Pod]:
    out: list[Pod] = []
    for name, node in state.service_pods.get(svc, {}).items():
        pod = pod_of(state, svc, name, node)
        if pod is not None:
            out.append(pod)
    return sorted(out, key=pod_order)


class RolloutPart(NamedTuple):
    """A rollout as the pods give it, its end still to be set by the end of the data."""

    id: str
    workload: str
    old: str
    new: str
    start_us: int
    #: the last of the old revision's pods to go, if any went
    gone_us: int | None
    #: an old pod is not gone: the rollout runs to the end of the data
    open: bool
    nodes: tuple[str, ...]


#: `rollout_parts`'s pairs as last found, per (workload, old, new): the two revisions' pods
#: they were found from and the part (None: no old pod was there at the start)
PartMemo = dict[tuple[str, str, str], tuple[list[Pod], list[Pod], RolloutPart | None]]


def rollout_parts(
    svc: ServiceRef, pods: Sequence[Pod], memo: PartMemo | None = None
) -> list[RolloutPart]:
    """The Service's rollouts from its pods (`pods_of`), before the end of the data. `memo`
    (one per Service, updated): a pair of revisions whose pods are equal to those it was last
    found from keeps its part (it reads only those pods and its names; tests/replay/
    test_refresh13.py)."""
    out: list[RolloutPart] = []
    per_workload: dict[str, dict[str, list[Pod]]] = {}
    for p in pods:  # in first-seen order: a workload's revisions in the order they appeared
        per_workload.setdefault(p.workload, {}).setdefault(p.revision, []).append(p)
    fresh: PartMemo = {}
    for workload in sorted(per_workload):
        revisions = per_workload[workload]
        for old, new in pairwise(revisions):
            olds, news = revisions[old], revisions[new]
            known = memo.get((workload, old, new)) if memo is not None else None
            if known is not None and known[0] == olds and known[1] == news:
                part = known[2]
            else:
                part = _part(svc, workload, old, new, olds, news)
            fresh[(workload, old, new)] = (olds, news, part)
            if part is not None:
                out.append(part)
    if memo is not None:
        memo.clear()
        memo.update(fresh)
    return out


def _part(
    svc: ServiceRef, workload: str, old: str, new: str, olds: list[Pod], news: list[Pod]
) -> RolloutPart | None:
    """The rollout from revision `old` (its pods `olds`) to `new` (`news`), if an old pod was
    there when the first new one came."""
    start = min(p.first_us for p in news)
    there = [p for p in olds if p.first_us <= start]
    if not there:
        return None
    gone = [p.gone_us for p in there if p.gone_us is not None]
    nodes = sorted({p.node for p in (*olds, *news)})
    rid = group_id("ro", svc, workload, old, new, start)
    return RolloutPart(
        rid, workload, old, new, start, max(gone, default=None), len(gone) < len(there),
        tuple(nodes),
    )  # fmt: skip


def _spans(
    state: FoldState,
    svc: ServiceRef,
    end_of_data: int,
    pods: Sequence[Pod] | None = None,
    parts: Sequence[RolloutPart] | None = None,
) -> list[Rollout]:
    spans: list[Rollout] = []
    if parts is None:
        parts = rollout_parts(svc, pods_of(state, svc) if pods is None else pods)
    for r in parts:
        ends = [*([r.gone_us] if r.gone_us is not None else []), *([end_of_data] if r.open else [])]
        spans.append(
            Rollout(r.id, svc, "rollout", r.workload, r.old, r.new, r.start_us, max(ends), (),
                    r.nodes)
        )  # fmt: skip
    for node in nodes_of(state, svc):
        down_since: int | None = None
        for s in state.nodes.get((svc.cluster, node), []):
            bad = s.value != "Ready" or bool(s.num)
            if bad and down_since is None:
                down_since = s.at_us
            # a deleted node's disruption ends with it (the LB settles within settle_s)
            if down_since is not None and (not bad or s.value == "Deleted"):
                rid = group_id("nd", svc, node, down_since)
                spans.append(
                    Rollout(rid, svc, "node-disruption", f"Node/{node}", None, None,
                            down_since, s.at_us, (), (node,))
                )  # fmt: skip
                down_since = None
        if down_since is not None:
            rid = group_id("nd", svc, node, down_since)
            spans.append(
                Rollout(rid, svc, "node-disruption", f"Node/{node}", None, None,
                        down_since, max(end_of_data, down_since), (), (node,))
            )  # fmt: skip
    return sorted(spans, key=lambda r: (r.start_us, r.id))


def group(
    state: FoldState,
    windows: Sequence[Window],
    services: Sequence[ServiceRef] | None = None,
    settings: DetectSettings = DEFAULTS,
) -> tuple[list[Rollout], list[Window]]:
    """Rollouts and node disruptions with their windows; the windows with `rollout` set."""
    settle_us = seconds_us(settings.settle_s)
    groups: list[Rollout] = []
    assigned: list[Window] = []
    by_service: dict[ServiceRef, list[Window]] = {}
    for w in windows:
        by_service.setdefault(w.service, []).append(w)
    for svc in services if services is not None else lb_facing(state):
        mine = sorted(by_service.get(svc, ()), key=lambda w: w.start_us)
        pods = pods_of(state, svc)
        spans = _spans(state, svc, horizon(state, svc), pods)
        owned: dict[str | None, list[Window]] = {}
        for w in assign(mine, spans, pod_changes(state, svc, pods), settle_us):
            owned.setdefault(w.rollout, []).append(w)
            assigned.append(w)
        groups.extend(with_windows(spans, owned))
    assigned.sort(key=lambda w: (w.start_us, w.service, w.node))
    return groups, assigned


def spans_of(state: FoldState, svc: ServiceRef, parts: Sequence[RolloutPart]) -> list[Rollout]:
    """The Service's rollouts (from `rollout_parts`) and node disruptions, without their
    windows."""
    return _spans(state, svc, horizon(state, svc), parts=parts)


def assign(
    mine: Sequence[Window],
    spans: Sequence[Rollout],
    changes: dict[tuple[str, str], list[tuple[int, str]]],
    settle_us: int,
    before: Mapping[Window, Window] | None = None,
) -> list[Window]:
    """The windows (in start order) with `rollout` set to the group that caused each
    (`before`: windows assigned earlier, by what they were assigned from: one given the same
    group is reused)."""
    owner = _causes(mine, spans, changes, settle_us)
    out = []
    for w, o in zip(mine, owner, strict=True):
        kept = before.get(w) if before and w.rollout != o else None
        if kept is not None and kept.rollout == o:
            out.append(kept)
        else:
            out.append(w if w.rollout == o else replace(w, rollout=o))
    return out


def with_windows(spans: Sequence[Rollout], owned: dict[str | None, list[Window]]) -> list[Rollout]:
    """The spans with the windows they own (in start order), ending when the last closed."""
    out: list[Rollout] = []
    for span in spans:
        found = owned.get(span.id, [])
        end = max([span.end_us, *(w.end_us for w in found)])
        nodes = tuple(sorted(set(span.nodes) | {w.node for w in found}))
        out.append(replace(span, end_us=end, windows=tuple(found), nodes=nodes))
    return out


def _causes(
    mine: Sequence[Window],
    spans: Sequence[Rollout],
    changes: dict[tuple[str, str], list[tuple[int, str]]],
    settle_us: int,
) -> list[str | None]:
    """`_cause` of each window (in start order) against the spans (in start order): a sweep
    keeps the spans that started by the window's start and had not settled before it."""
    out: list[str | None] = []
    active: list[Rollout] = []
    i = 0
    for w in mine:
        while i < len(spans) and spans[i].start_us <= w.start_us:
            active.append(spans[i])
            i += 1
        # windows come in start order: a span settled before this start stays settled
        active = [s for s in active if w.start_us <= s.end_us + settle_us]
        out.append(_cause(w, active, changes, settle_us))
    return out


def pod_changes(
    state: FoldState, svc: ServiceRef, pods: Sequence[Pod] | None = None
) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Per (workload, node): (time, revision) of every pod start, deletion and stop, in time
    order."""
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for p in pods_of(state, svc) if pods is None else pods:
        out.setdefault((p.workload, p.node), []).extend(changes_of(state, svc, p))
    for changes in out.values():
        changes.sort()
    return out


def changes_of(state: FoldState, svc: ServiceRef, p: Pod) -> list[tuple[int, str]]:
    """(time, revision) of the pod's start, deletion and first stop (`pod_changes`)."""
    times = [p.first_us, *([p.gone_us] if p.gone_us is not None else [])]
    samples = state.pods.get((svc.cluster, svc.namespace, p.name), [])
    times += [s.at_us for s in samples if s.state == "terminating"][:1]
    return [(t, p.revision) for t in times]


def _time(change: tuple[int, str]) -> int:
    return change[0]


def _cause(
    w: Window,
    spans: Sequence[Rollout],
    changes: dict[tuple[str, str], list[tuple[int, str]]],
    settle_us: int,
) -> str | None:
    """The group whose change opened the window (docs/semantics.md): a node-not-ready window
    belongs to its node's disruption; else a rollout that changed a pod on the window's node
    shortly before it opened; else its node's disruption; else the first group holding its
    start (overlapping groups share windows by cause, not by size)."""
    holding = [s for s in spans if s.start_us <= w.start_us <= s.end_us + settle_us]
    lo = w.start_earliest_us - settle_us
    own_node = [s for s in holding if s.kind == "node-disruption" and s.nodes == (w.node,)]
    if w.cls == "node-not-ready" and own_node:
        return own_node[0].id
    for span in holding:
        if span.kind != "rollout":
            continue
        revisions = {span.revision_from, span.revision_to}
        near = changes.get((span.workload, w.node), [])
        first = bisect_left(near, lo, key=_time)
        last = bisect_right(near, w.start_latest_us, key=_time)
        if any(rev in revisions for _t, rev in near[first:last]):
            return span.id
    if own_node:
        return own_node[0].id
    return holding[0].id if holding else None
