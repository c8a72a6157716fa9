"""A node's last pod stopped, reported by its kubelet, just before the Node's deletion was seen
(a cluster-autoscaler or Karpenter scale-down: the node is drained, then the machine goes):
the kubelet writes a container's `terminated` state only while its node runs, so the node was
up when F fell and the window is the pod's, not `node-not-ready` (replay.deaths.
stopped_while_up). Literal observations shaped like random 14000612 node-001 (docs/semantics.md,
"The fourth spent set read"); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import NNR, PGBD
from tests.replay.builders import (
    eps,
    node_deleted,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)

PTE = "v1.29.3"  # ProxyTerminatingEndpoints GA: the terminating pod is forwarded to


def _scaled_down(stop: Observation) -> list[Window]:
    """p1 drained at 10 s (serving-terminating), its stop seen at 12.47 s (`stop`), the slice
    empty at 12.43 s, the Node's deletion seen at 13.14 s; NodePort looks every 5 s connected
    until 10 s (the prober leaves a node once its deletion is seen); the LB last seen routing at
    13.86 s, draining at 15.86 s."""
    obs = [
        *one_node(PTE),
        nodeport(5, None, "n1", "connected"),
        nodeport(10, 5, "n1", "connected"),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.1, [("p1", "n1", "terminating")]),
        eps(12.43, []),
        stop,
        node_deleted(13.14, "n1", "True"),
        target(15.86, 13.86, "n1", "draining"),
    ]
    return windows_of(obs)


def test_a_pod_stop_its_kubelet_reported_before_the_nodes_deletion_is_the_pods_window() -> None:
    # finishedAt 12 s: the container stopped in [12, 13) s, written by the kubelet by 12.47 s
    (window,) = _scaled_down(pod(12.47, "p1", "n1", "gone", deleted_at=10, finished=12))
    assert window.certain
    assert window.cls == PGBD


def test_a_stop_no_kubelet_reported_leaves_the_nodes_deletion_the_cause() -> None:
    # the pod garbage-collected with its node: no terminated state, no finishedAt
    (window,) = _scaled_down(pod(12.47, "p1", "n1", "gone", deleted_at=10))
    assert window.cls == NNR


def test_a_previous_restarts_finished_at_is_no_report_of_this_stop() -> None:
    # a finishedAt from before the last update that saw the pod up (random 14000886 node-001:
    # a crash at 5:54 and a restart; the deletion carried that lastState along): not this stop
    (window,) = _scaled_down(pod(12.47, "p1", "n1", "gone", deleted_at=10, finished=3))
    assert window.cls == NNR
