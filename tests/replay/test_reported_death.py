"""A window F's fall opened, F read from the health check alone (no NodePort probe): a local
pod's death its kubelet reported (finishedAt) inside the start's range opened it, however late
the Pod update saying so was seen (replay.detect._reported_dead). The health check counts no
terminating endpoint and a dead pod's endpoint until the slice drops it, so it shows neither
the forwarding nor the death. Shaped like random 49 node-005 (read as
closed-before-deregistered before, `accuracy.py --without-nodeport --explain`); times in
seconds."""

from __future__ import annotations

from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import eps, health, one_node, pod, target, windows_of


def _late_report(seen: float) -> list[Window]:
    """n1 (kube-proxy 1.29: ProxyTerminatingEndpoints GA) with one pod p1, deleted at 10 s and
    serving-terminating from 10.1 s (kube-proxy keeps forwarding to it); the health check
    answers 200 at 5 s, 503 counting none from 11 s (every 2 s). p1's container stops at 20 s
    (finishedAt); the Pod update saying so is seen at `seen`, the slice drops it 0.3 s later;
    the LB, polled every 2 s, is seen failing n1's checks at 26 s."""
    obs = [
        *one_node(),
        health(5, None, "n1", 1),
        *[health(t, t - 2, "n1", 0) for t in range(11, 31, 2)],
        *[target(t, t - 2, "n1", "healthy", "OBSERVED") for t in range(3, 26, 2)],
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.1, [("p1", "n1", "terminating")]),
        pod(seen, "p1", "n1", "gone", deleted_at=10, finished=20),
        eps(seen + 0.3, []),
        target(26, 25, "n1", "unhealthy"),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_death_reported_late_still_opened_the_window() -> None:
    # the kubelet's report came 7 s late (its status writes queue behind its API rate limit)
    (window,) = _late_report(27.0)
    assert window.cls == PGBD


def test_a_death_reported_at_once_is_read_the_same() -> None:
    (window,) = _late_report(20.5)
    assert window.cls == PGBD
