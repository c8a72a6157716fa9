"""A local pod removed from the API in one step, its Node's deletion seen next: the node was gone
by that removal (replay.orphans, rule L of docs/semantics.md "The ninth spent set read").

PodGC (kube-controller-manager) deletes the pods bound to a Node that no longer exists, with no
grace period: no update marks them terminating, no kubelet reports their containers stopping.
It acts only on a Node already deleted, so the removal was written after the deletion, but the
recorder watches Pods and Nodes on separate streams and may see the removal first. Shaped like
random 22,000,344 node-001 (the machine went away at 275.5 s, its pod's removal seen at 275.84
s, the Node's deletion at 277.53 s; read certain `pod-gone-before-deregistered` with nothing
named, truth `node-not-ready`) and 22,000,421 node-001.

Literal observations: the health-check node port looked at every 5 s (no NodePort probe: the
recorder's default for a LoadBalancer Service), the LB polled every 2 s. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import NNR, PGBD
from tests.replay import builders as b

_V = "v1.25.16"


def _removed(node_deleted_at: float | None, answered_after: bool = False) -> Window:
    """p1 on n1 (kube-proxy 1.25), ready from 1 s; the health check answers 200 counting it
    every 5 s through 40 s. The pod leaves the API at 45.84 s in one step (no terminating
    update, no finishedAt); the slice drops its endpoint at 46.0 s; the Node's deletion is seen
    at `node_deleted_at` (None: never); the LB routes to n1 until it is seen draining at 48 s.
    `answered_after`: a look at 46.5 s still answers (503 counting none)."""
    obs: list[Observation] = b.one_node(_V)
    obs += [b.target(t, t - 2, "n1", "healthy") for t in range(3, 47, 2)]
    obs += [b.target(48, 46, "n1", "draining"), b.pod(45.84, "p1", "n1", "deleted")]
    obs.append(b.eps(46.0, []))
    if node_deleted_at is not None:
        obs.append(b.node_deleted(node_deleted_at, "n1"))
    prev: float | None = None
    for t in range(5, 45, 5):
        obs.append(b.health(t, prev, "n1", 1))
        prev = t
    if answered_after:
        obs.append(b.health(46.5, prev, "n1", 0))
    return b.window_on(obs, "n1")


def test_a_pod_removed_at_once_before_its_nodes_deletion_is_the_node_gone() -> None:
    # the Node's deletion seen 1.69 s after the removal: past the watch skew, but PodGC
    # removed the pod because the Node was already gone
    window = _removed(47.53)
    assert window.certain
    assert window.cls == NNR


def test_without_the_nodes_deletion_the_removal_is_the_pods_death() -> None:
    assert _removed(None).cls == PGBD


def test_a_look_answered_after_the_removal_shows_the_node_up() -> None:
    # kube-proxy answered on the node after the pod left: the node was up when F fell
    assert _removed(47.53, answered_after=True).cls != NNR
