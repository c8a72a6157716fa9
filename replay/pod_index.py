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

from dataclasses import dataclass
from typing import Any

from gapwatch.replay.fold import FoldState, PodSample
from gapwatch.replay.group import Pod, changes_of, owner_of, pod_of, pod_order, workload_key
from gapwatch.replay.model import ServiceRef

Changes = dict[tuple[str, str], list[tuple[int, str]]]


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
    state: FoldState, svc: ServiceRef, index: PodIndex
) -> tuple[list[Pod], Changes]:
    """`group.pods_of(state, svc)` and `group.pod_changes` of them, reusing the entries of
    `index` whose inputs did not move (`index` is updated to the Service's pods now)."""
    known = state.service_pods.get(svc, {})
    for gone in [n for n in index if n not in known]:
        del index[gone]
    pods: list[Pod] = []
    out: Changes = {}
    for name, node in known.items():
        samples = state.pods.get((svc.cluster, svc.namespace, name))
        if not samples:
            index.pop(name, None)
            continue
        entry = index.get(name)
        if (
            entry is None
            or entry.samples is not samples
            or entry.length != len(samples)
            or entry.node != node
            or (entry.workload_at is not None
                and state.workloads.get(entry.workload_at) != entry.workload)
        ):  # fmt: skip
            pod = pod_of(state, svc, name, node)
            assert pod is not None
            at = workload_key(svc, owner_of(samples))
            value = state.workloads.get(at) if at is not None else None
            entry = PodEntry(
                samples, len(samples), node, at, value, pod, changes_of(state, svc, pod)
            )
            index[name] = entry
        pods.append(entry.pod)
    pods.sort(key=pod_order)
    for pod in pods:
        out.setdefault((pod.workload, pod.node), []).extend(index[pod.name].changes)
    for changes in out.values():
        changes.sort()
    return pods, out
