"""A death after a look that found kube-proxy with no rules did not open the window (rule W,
docs/semantics.md "The fifth spent set read").

Random 16,000,044 node-002's shape: kube-proxy 1.25 without ProxyTerminatingEndpoints (a
terminating endpoint gets no traffic, KEP-1669) drops the old pod's endpoint when it starts
terminating; the replacement is listed ready, but kube-proxy programs it only later, so the
NodePort times out (no rules: iptables drops "has no local endpoints", design notes section 6).
The old pod dies after that: its kubelet's finishedAt puts the death after the first timeout.
The window was kube-proxy's close with a listed endpoint not yet programmed
(`registered-before-forwarding`); reading the death seen inside the start range as its cause
(`pod-gone-before-deregistered`) ignored the look that found no rules before it.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (an endpoint-driven LB: the group checks the NodePort).
The CCM's lag bound is stated (5 s) so that the LB's possible excursion around the pod swap
(rule U) ends inside the data."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from tests.replay.builders import eps, looks, node, pod, polled_healthy, service, window_on

SETTINGS = replace(DEFAULTS, ccm_lag_max_s=5.0)
PGBD, RBF = "pod-gone-before-deregistered", "registered-before-forwarding"


def _swap(finished: float) -> list[Observation]:
    """n1 on kube-proxy 1.25: p1 terminating at 20 s, p2 ready at 21 s and listed at 21.2 s;
    the NodePort (probed every 0.5 s) connects through 22 s, times out from 22.5 s to 28 s and
    connects at 28.5 s; p1 seen stopped at 25.2 s, its kubelet's finishedAt `finished`; the LB
    polled every 10 s, healthy throughout."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(20.0, "p1", "n1", "terminating", deleted_at=20),
        eps(20.1, [("p1", "n1", "terminating")]),
        pod(20.2, "p2", "n1", "pending", revision="bbb"),
        pod(21.0, "p2", "n1", "ready", revision="bbb"),
        eps(21.2, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(25.2, "p1", "n1", "gone", deleted_at=20, finished=finished),
        eps(25.4, [("p2", "n1", "ready")]),
    ]
    obs += polled_healthy("n1", (0, 10, 20, 30, 40), check_port=32999)
    obs += looks("n1", 1, 40, 0.5, lambda t: "timeout" if 22.5 <= t <= 28 else "connected")
    return obs


def test_a_death_after_the_first_look_without_rules_is_not_the_cause() -> None:
    # finishedAt 24 s: p1 died in [23 s, 25.2 s], after the timeout at 22.5 s
    w = window_on(_swap(finished=24), "n1", SETTINGS)
    assert w.certain
    assert w.cls == RBF


def test_a_death_that_may_precede_that_look_still_opens_the_window() -> None:
    # finishedAt 22 s: p1 may have died from 21 s on, before any look found no rules
    w = window_on(_swap(finished=22), "n1", SETTINGS)
    assert w.certain
    assert w.cls == PGBD
