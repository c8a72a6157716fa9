"""A window opened by kube-proxy closing keeps its cause when the look that saw the closing was
slow (replay/detect.py `proxy_opened`). Found by the lab (`gapwatch lab --faults sigkill --seed 1
--fault-seed 5`, a loaded machine at 10x): a rolling update on a v1.25 node; the old pod
terminates (no ready local endpoint), kube-proxy answers 503, and the new pod turns ready 4 s
later. A health look that took long put the window's latest start within the watch skew of the
new pod's readiness, and the window was classed registered-before-forwarding; the truth is
closed-before-deregistered. Literal observations."""

from __future__ import annotations

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import eps, facts_of, health, node, pod, service, target


def _serving() -> list[Observation]:
    """A v1.25 node (no PTE) serving one ready local pod behind a healthy target."""
    return [
        service(0),
        node(0, "n1", version="v1.25.16"),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        health(1, None, "n1", 1),
        health(64.0, None, "n1", 1),
    ]


def _rolling_update(change_at: float, change_prev: float) -> list[str]:
    obs = [
        *_serving(),
        pod(62.9, "p1", "n1", "ready", deleted_at=62.9),
        eps(62.9, [("p1", "n1", "terminating")]),
        health(change_at, change_prev, "n1", 0),  # the closing, seen by one look
        pod(66.87, "p2", "n1", "ready", revision="bbb"),
        eps(66.87, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        health(70.15, 69.16, "n1", 1),
    ]
    return [w.cls for w in detect(fold(FoldState(), facts_of(obs)))]


@pytest.mark.parametrize(
    ("change_at", "change_prev"),
    [(65.32, 64.30), (66.5, 64.8)],  # a quick look; one whose end came 0.37 s before p2's ready
)
def test_a_slow_look_does_not_move_the_cause_to_the_next_pod(
    change_at: float, change_prev: float
) -> None:
    assert _rolling_update(change_at, change_prev) == ["closed-before-deregistered"]


def test_endpoints_ready_all_along_still_mean_registered_before_forwarding() -> None:
    """kube-proxy stopped answering 200 while the local endpoint stayed ready throughout: not a
    closing for lack of endpoints (the class the rule leaves alone)."""
    obs = [
        *_serving(),
        health(66.5, 64.8, "n1", 0),
        health(70.15, 69.16, "n1", 1),
    ]
    assert [w.cls for w in detect(fold(FoldState(), facts_of(obs)))] == [
        "registered-before-forwarding"
    ]
