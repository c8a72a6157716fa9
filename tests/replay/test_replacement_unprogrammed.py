"""A replacement that came up while the old local pod was still up is not forwarded to until
kube-proxy programmed it: when the old pod dies first, the node has nothing to forward to in
between (replay.podsup). The pods-up lane read the replacement as surely forwarded from its
Ready because another pod was up then ("the one kube-proxy forwarded to was up"), true only
while that one lived: a rollout whose old pod died before kube-proxy was shown to have
programmed the new one hid a `pod-gone-before-deregistered` gap (random 204 node-002's shape:
without NodePort probes, 2.8 points of recall on both development sets).

Literal observations, no NodePort probe (the recorder's default for a LoadBalancer Service):
Pods and EndpointSlices as the watch returns them, the health-check node port's answers, the
LB's target health; kube-proxy 1.29 (ProxyTerminatingEndpoints GA). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import at, eps, health, node, pod, service, target, windows_of


def _rollout(old_dies: float) -> list[Window]:
    """p1 on n1 is deleted at 10 s (serving-terminating in the slice from 10.05 s); its
    replacement p2 is Ready at 13.7 s and listed ready at 13.8 s. The health check answers 503
    counting no ready endpoint at 14.5 s (the LB drains n1) and 200 counting one at 19.5 s (the
    LB routes to it again): kube-proxy programmed p2 somewhere in between. p1's container stops
    at `old_dies` (finishedAt), seen 0.9 s later."""
    obs: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.29.3"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        health(1, None, "n1", 1),
        health(9.5, 1, "n1", 1),
        pod(10, "p1", "n1", "terminating", deleted_at=10, grace=60),
        eps(10.05, [("p1", "n1", "terminating")]),
        pod(11, "p2", "n1", "pending", revision="bbb"),
        pod(13.7, "p2", "n1", "ready", revision="bbb"),
        eps(13.8, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        health(14.5, 9.5, "n1", 0),
        target(14.5, 9.5, "n1", "draining"),
        pod(old_dies + 0.9, "p1", "n1", "gone", deleted_at=10, grace=60, finished=old_dies),
        eps(old_dies + 1.0, [("p2", "n1", "ready")]),
        health(19.5, 14.5, "n1", 1),
        target(19.5, 14.5, "n1", "healthy"),
        *(health(t, t - 5, "n1", 1) for t in (24.5, 29.5, 34.5)),
        *(target(t, t - 5, "n1", "healthy") for t in (24.5, 29.5, 34.5)),
    ]
    return windows_of(obs)


def test_the_old_pod_dying_before_the_new_one_is_shown_programmed_may_open_a_gap() -> None:
    # p1 dies at 18 s; p2 is shown programmed only by the 200 at 19.5 s, and the LB may have
    # routed to n1 again from 14.5 s: a gap was possible from 18 s, never proven
    (window,) = _rollout(18.0)
    assert window.cls == PGBD and not window.certain
    assert window.start_earliest_us <= to_micros(at(18)) < window.end_latest_us
    assert window.end_latest_us <= to_micros(at(19.5))


def test_the_old_pod_dying_after_the_new_one_is_shown_programmed_opens_nothing() -> None:
    # the 200 counting p2 at 19.5 s came after kube-proxy programmed it: a death after it
    # leaves the node forwarding to p2
    assert _rollout(21.0) == []
    assert _rollout(30.0) == []
