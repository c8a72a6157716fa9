"""A Service's pods as grouping reads them, kept pod by pod between refreshes.

Grouping (replay.group) reads a Service's pods (`pods_of`: name, node, revision, workload, first
seen, gone) and their changes per (workload, node) (`pod_changes`). Each pod's part reads only
its own samples (append-only: `FoldState.pods`), the node the EndpointSlices put it on, and, for
a pod a ReplicaSet owns, that ReplicaSet's workload entry. A refresh after a batch with a few
Pod facts (replay.node_rows) finds again only the pods where one of those moved, instead of every
pod of the Service (3,527 on the `large` store's gateway). Equal to `pods_of` / `pod_changes`
(tests/replay/test_pod_index.py: batch by batch over simulated histories, late Pods and
workloads included).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gapwatch.replay.fold import FoldState, PodSample
from gapwatch.replay.group import Pod, changes_of, owner_of, pod_of, pod_order, workload_key
from gapwatch.replay.model import ServiceRef

Key = tuple[str, str]
Changes = dict[Key, list[tuple[int, str]]]


@dataclass(slots=True)
class PodEntry:
    #: the samples list it was found from (the same list, as long) and its node
    samples: list[PodSample]
    length: int
    node: str
    #: the workload entry its name read (`group.workload_key`), and its value then
    workload_at: tuple[str, str, str] | None
    workload: Any
    pod: Pod
    changes: list[tuple[int, str]]


PodIndex = dict[str, PodEntry]


def pods_and_changes(
    state: FoldState,
    svc: ServiceRef,
    index: PodIndex,
    last: tuple[list[Pod], Changes] | None = None,
) -> tuple[list[Pod], Changes]:
    """`group.pods_of(state, svc)` and `group.pod_changes` of them, reusing the entries of
    `index` whose inputs did not move (`index` is updated to the Service's pods now). `last`:
    what the previous call on `index` returned; the pods found again are then moved in its
    sorted list and only their (workload, node) changes sorted again (a few pods of 3,527)."""
    known = state.service_pods.get(svc, {})
    moved: list[tuple[PodEntry | None, PodEntry | None]] = []  # (before, now) of each pod
    for gone in [n for n in index if n not in known]:
        moved.append((index.pop(gone), None))
    pods: list[Pod] = []
    # the loop runs over every pod of the Service (3,527 on the `large` store's gateway) and
    # finds few again: its look-ups bound once
    cluster, namespace = svc.cluster, svc.namespace
    samples_of, workload_of, entry_of = state.pods.get, state.workloads.get, index.get
    append = pods.append
    for name, node in known.items():
        samples = samples_of((cluster, namespace, name))
        if not samples:
            if name in index:
                moved.append((index.pop(name), None))
            continue
        entry = entry_of(name)
        if (
            entry is None
            or entry.samples is not samples
            or entry.length != len(samples)
            or entry.node != node
            or (entry.workload_at is not None
                and workload_of(entry.workload_at) != entry.workload)
        ):  # fmt: skip
            pod = pod_of(state, svc, name, node)
            assert pod is not None
            at = workload_key(svc, owner_of(samples))
            value = state.workloads.get(at) if at is not None else None
            found = PodEntry(
                samples, len(samples), node, at, value, pod, changes_of(state, svc, pod)
            )
            moved.append((entry, found))
            entry = index[name] = found
        append(entry.pod)
    patched = _patched(last, moved, index) if last is not None else None
    if patched is not None:
        return patched
    pods.sort(key=pod_order)
    return pods, _changes(pods, index)


def _changes(pods: Sequence[Pod], index: PodIndex, keys: set[Key] | None = None) -> Changes:
    """Per (workload, node) of the pods (only `keys`, if given), their changes in time order."""
    out: Changes = {}
    nodes = None if keys is None else {node for _workload, node in keys}
    for pod in pods:
        if nodes is not None and pod.node not in nodes:  # a string's hash is kept: cheap
            continue
        key = (pod.workload, pod.node)
        if keys is None or key in keys:
            out.setdefault(key, []).extend(index[pod.name].changes)
    for changes in out.values():
        changes.sort()
    return out


def _patched(
    last: tuple[list[Pod], Changes],
    moved: Sequence[tuple[PodEntry | None, PodEntry | None]],
    index: PodIndex,
) -> tuple[list[Pod], Changes] | None:
    """`last` with the moved pods taken out of the sorted list and put back as they are now,
    and the changes of their (workload, node) keys found again (None: a pod was not where
    the list had it: find all)."""
    before, changes = last
    pods = list(before)
    for old, _new in moved:
        if old is not None:
            at = bisect_left(pods, pod_order(old.pod), key=pod_order)
            if at == len(pods) or pods[at] is not old.pod:
                return None
            del pods[at]
    for _old, new in moved:
        if new is not None:
            insort(pods, new.pod, key=pod_order)
    keys = {(e.pod.workload, e.pod.node) for pair in moved for e in pair if e is not None}
    if not keys:
        return pods, dict(changes)
    out = {k: v for k, v in changes.items() if k not in keys}
    out.update(_changes(pods, index, keys))
    return pods, out
