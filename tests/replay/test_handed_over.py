"""A replacement listed ready while the old local pod was still serving-terminating, under
ProxyTerminatingEndpoints: kube-proxy forwarded to the terminating pod until it programmed the
ready one, so its rules for the node were never empty, and a gap before that programming is
the old pod's death under its rules (`pod-gone-before-deregistered`), not a listed endpoint left
unprogrammed (replay.detect._handed_over). Literal observations shaped like random 14000753
node-002 (docs/semantics.md, "The fourth spent set read"); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay.builders import eps, health, nodeport, one_node, pod, target, windows_of


def _handover(version: str, *between: Observation) -> list[Window]:
    """n1 (kube-proxy `version`): p1 deleted at 10 s and serving-terminating in the slice; its
    replacement p2 ready at 17.5 s and listed at 18.8 s (`between`: what the slice showed in
    between); p1's stop (finishedAt 19 s) seen at 19.8 s. The health check counts 0 ready
    endpoints at 14 and 19 s and 1 at 24 s; the NodePort connects at every look (every 5 s:
    no look inside the gap); the LB drained the node (first seen at 15 s) and is seen routing
    again at 21 s (last seen draining at 20 s)."""
    obs = [
        *one_node(version),
        nodeport(4, None, "n1", "connected"),
        health(4, None, "n1", 1),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.1, [("p1", "n1", "terminating")]),
        pod(10.2, "p2", "n1", "pending"),
        health(14, 4, "n1", 0),
        target(15, 14, "n1", "draining"),
        *between,
        pod(17.5, "p2", "n1", "ready"),
        eps(18.8, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(19.8, "p1", "n1", "gone", deleted_at=10, finished=19),
        eps(20.1, [("p2", "n1", "ready")]),
        target(21, 20, "n1", "healthy"),
        health(24, 19, "n1", 1),
        nodeport(24, 19, "n1", "connected"),
    ]
    windows = windows_of(obs)
    return [w for w in windows if not w.certain]


def test_a_handover_under_pte_leaves_the_dead_pods_rules() -> None:
    # 1.31: PTE is GA. Before kube-proxy programmed p2 (by the 200 at 24 s), it forwarded to
    # p1 only; p1 died at 19 s, and the LB's return in (20, 21] s met its rules
    (window,) = _handover("v1.31.2")
    assert window.cls == PGBD
    assert RBF not in window.also


def test_without_pte_stated_a_listed_endpoint_may_be_unprogrammed() -> None:
    # 1.27: PTE on by default, but the gate can be off: kube-proxy may have dropped the
    # terminating p1 and have had no rules at all, with p2 listed and not yet programmed
    (window,) = _handover("v1.27.8")
    assert window.cls == RBF


def test_a_slice_with_nothing_to_forward_between_may_have_emptied_the_rules() -> None:
    # the slice showed no serving endpoint on n1 at 16 s (p1 failing readiness on SIGTERM):
    # kube-proxy may have synced that and had no rules when the LB came back
    (window,) = _handover("v1.31.2", eps(16, [("p1", "n1", "stopped")]))
    assert window.cls == RBF
