"""A replacement listed ready while the old local pod was still serving-terminating, under
ProxyTerminatingEndpoints: kube-proxy forwarded to the terminating pod until it programmed the
ready one, so its rules for the node were never empty, and a gap before that programming is
the old pod's death under its rules (`pod-gone-before-deregistered`), not a listed endpoint left
unprogrammed (replay.detect._handed_over). Literal observations shaped like random 14000753
node-002 (docs/semantics.md, "The fourth spent set read"); times in seconds."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, PGBD, RBF
from tests.replay.builders import (
    eps,
    health,
    health_looks,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)


def _handover(
    version: str, *between: Observation, settings: DetectSettings = DEFAULTS
) -> list[Window]:
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
    windows = windows_of(obs, settings)
    return [w for w in windows if not w.certain]


def test_a_handover_under_pte_leaves_the_dead_pods_rules() -> None:
    # 1.31: PTE is GA. Before kube-proxy programmed p2 (by the 200 at 24 s), it forwarded to
    # p1 only; p1 died at 19 s, and the LB's return in (20, 21] s met its rules
    (window,) = _handover("v1.31.2")
    assert window.cls == PGBD
    assert RBF not in window.also


def test_pte_on_by_default_reads_the_handover_first_and_names_the_gate_off() -> None:
    # 1.27: PTE beta and on by default (KEP-1669), nothing stating it: the likelier reading is
    # the gate on, kube-proxy's rules held p1 until it programmed p2, as on 1.31; the gate can
    # have been turned off, then kube-proxy dropped p1 and had no rules with p2 listed and not
    # yet programmed: that reading stays named (docs/semantics.md, "Classes without NodePort
    # probes (session 29)")
    (window,) = _handover("v1.27.8")
    assert window.cls == PGBD
    assert RBF in window.also


def test_a_nodeport_look_without_rules_shows_the_default_gate_off() -> None:
    # 1.27 again, the NodePort timing out at 16 and 19 s (no rules: kube-proxy had dropped p1,
    # so the gate was off whatever its default): kube-proxy's close opens a window of its own
    # while the LB drains, and the LB's return meets p2 listed and not yet programmed
    dropped = nodeport(16, 4, "n1", "timeout"), nodeport(19, 16, "n1", "timeout")
    closed, returned = _handover("v1.27.8", *dropped)
    assert closed.cls == CBD
    assert returned.cls == RBF


def test_the_gate_stated_off_reads_no_handover() -> None:
    # 1.27 with the gate stated off (`assumptions --set proxy_terminating_endpoints=false`)
    off = replace(DEFAULTS, proxy_terminating_endpoints=False)
    closed, returned = _handover("v1.27.8", settings=off)
    assert closed.cls == CBD
    assert returned.cls == RBF
    assert PGBD not in returned.also


def test_before_1_26_the_default_gate_off_reads_unprogrammed() -> None:
    # 1.25: the gate off by default (alpha): the listed endpoint unprogrammed, as before
    (window,) = _handover("v1.25.16")
    assert window.cls == RBF


def test_a_slice_with_nothing_to_forward_between_may_have_emptied_the_rules() -> None:
    # the slice showed no serving endpoint on n1 at 16 s (p1 failing readiness on SIGTERM):
    # kube-proxy may have synced that and had no rules when the LB came back
    (window,) = _handover("v1.31.2", eps(16, [("p1", "n1", "stopped")]))
    assert window.cls == RBF


def test_without_nodeport_probes_a_default_handover_reads_the_dead_pods_rules() -> None:
    # random 42 node-004's shape (`accuracy.py --without-nodeport --explain`: read
    # registered-before-forwarding, truth pod-gone-before-deregistered): kube-proxy 1.26, no
    # NodePort probe (the recorder's default for a LoadBalancer Service), the health check
    # every 0.5 s, an endpoint-driven LB polled every 2 s. p1 deleted at 9.5 s, listed
    # serving-terminating at 9.9 s, the LB draining from 10 s; p2 ready at 13.7 s and listed
    # ready beside it at 14 s; p1 stopped at 14 s (finishedAt 13 s); the LB routing again at
    # 16 s; the health check counts p1 until 12.5 s, none from 13 s, p2 from 21 s. With the
    # gate on (1.26's default) kube-proxy forwarded to p1 until it programmed p2: the LB's
    # return met the dead pod's rules; with the gate turned off, no rules and p2 unprogrammed
    looks = [k / 2 for k in range(4, 50)]
    obs = [
        *one_node("v1.26.15"),
        *health_looks("n1", looks, lambda t: 0 if 13 <= t < 21 else 1),
        target(8, 6, "n1", "healthy"),
        pod(9.5, "p1", "n1", "terminating", deleted_at=9.5),
        eps(9.9, [("p1", "n1", "terminating")]),
        target(10, 8, "n1", "draining"),
        pod(10, "p2", "n1", "pending"),
        *[target(t, t - 2, "n1", "draining") for t in (12, 14)],
        pod(13.7, "p2", "n1", "ready"),
        eps(14, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(14, "p1", "n1", "gone", deleted_at=9.5, finished=13),
        eps(14.5, [("p2", "n1", "ready")]),
        *[target(t, t - 2, "n1", "healthy") for t in range(16, 26, 2)],
    ]
    (window,) = [w for w in windows_of(obs) if not w.certain and w.end_latest_us > 0]
    assert window.cls == PGBD
    assert RBF in window.also
