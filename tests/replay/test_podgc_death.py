"""A local pod removed by PodGC after its Node's deletion, its kubelet never reporting the stop
(docs/semantics.md, "Two class gaps of session 33"): the removal is no kubelet status write, so
the death it reports may lie anywhere after the pod's last update that saw it up, and a window
read as kube-proxy's close names the pod's death where that span reaches its start range.
Literal observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import (
    eps,
    facts_of,
    node,
    node_deleted,
    nodeport,
    pod,
    service,
    target,
)

PGBD, CBD = "pod-gone-before-deregistered", "closed-before-deregistered"


def _orphaned(node_gone: float | None, finished: float | None = None) -> list[Observation]:
    """Random 29,000,012 node-001's shape: kube-proxy 1.25 (no ProxyTerminatingEndpoints) on n1;
    p1 terminating at 99 s (its endpoint serving-terminating at 99.1 s, dropped at 100.6 s);
    NodePort probed every second, connected through 100 s, then timeouts; the LB polled every
    5 s, healthy through 120 s. The Node deleted at `node_gone` (None: never), and p1 seen
    removed at 125 s with no further update, with its kubelet's finishedAt where `finished`."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(1, "p1", "n1", "ready"),
        pod(99, "p1", "n1", "terminating", deleted_at=99),
        pod(125, "p1", "n1", "gone", deleted_at=99, finished=finished),
        eps(1, [("p1", "n1", "ready")]),
        eps(99.1, [("p1", "n1", "terminating")]),
        eps(100.6, []),
        target(1, None, "n1", "healthy", "ADDED"),
    ]
    if node_gone is not None:
        obs.append(node_deleted(node_gone, "n1"))
    obs += [nodeport(float(t), float(t - 1) if t > 1 else None, "n1",
                     "connected" if t <= 100 else "timeout") for t in range(1, 121)]  # fmt: skip
    obs += [target(float(t), float(t - 5), "n1", "healthy") for t in range(5, 121, 5)]
    return sorted(obs, key=lambda o: o.observed_at)


def _window(obs: list[Observation]) -> Window:
    (window,) = [w for w in detect(fold(FoldState(), facts_of(obs))) if w.node == "n1"]
    return window


def test_a_pod_removed_by_podgc_names_its_death() -> None:
    # the Node deleted at 124.7 s, p1 removed at 125 s with no kubelet report: PodGC's removal,
    # the death anywhere after 99 s (its last update up); kube-proxy's close (after 99.1 s)
    # and the death both may have opened the window in (100 s, 101 s]. main read the removal
    # as the kubelet's report (the death after 122 s) and named nothing else
    w = _window(_orphaned(124.7))
    assert w.cls == CBD
    assert PGBD in w.also


def test_a_removal_seen_before_the_nodes_deletion_names_its_death() -> None:
    # the recorder's Pod and Node watches are separate streams: the Node's deletion seen
    # 0.4 s after PodGC's removal, its next change, reads the same
    w = _window(_orphaned(125.4))
    assert w.cls == CBD
    assert PGBD in w.also


def test_a_removal_with_the_node_up_is_the_kubelets_report() -> None:
    # no Node deletion: the removal is the kubelet finishing the graceful deletion, its report
    # at most pod_status_s after the death (after 122 s): kube-proxy's close alone
    w = _window(_orphaned(None))
    assert (w.cls, w.also) == (CBD, ())


def test_a_removal_carrying_the_kubelets_finished_at_keeps_it() -> None:
    # the Node deleted, but the removal carries a finishedAt (124 s) the kubelet wrote before
    # it went: the death lies around it, after the start range (the node's end may be named)
    w = _window(_orphaned(124.7, finished=124))
    assert w.cls == CBD
    assert PGBD not in w.also
