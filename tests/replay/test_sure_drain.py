"""A sure window whose start range holds a look that saw the LB not routing to the node
(`draining`), then a look that saw it `healthy` again: the sure gap began after the drain,
with the LB taking the node back (registered-before-forwarding), not with the old pod's death
before it (docs/semantics.md, "Classes"). Hand-built observations (tests/replay/builders.py)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import eps, nodeport, one_node, pod, target, windows_of


def _rollout(back_healthy: bool) -> list[Window]:
    """n1's only pod p1 terminates at 98 s and is gone by 100.5 s (a probe is refused: the
    rules still point at it); the LB, seen routing to n1 at 96.5 s, is seen `draining` it at
    101.5 s; the replacement p2 is ready at 107 s, kube-proxy has not programmed it at 108 s or
    112 s (timeout: no local endpoint) and has at 113 s. With `back_healthy` the LB is seen
    routing to n1 again at 111.5 s."""
    obs: list[Observation] = [
        *one_node(),
        nodeport(2, None, "n1", "connected"),
        target(96.5, 1, "n1", "healthy"),
        nodeport(99.5, 2, "n1", "connected"),
        pod(98, "p1", "n1", "terminating"),
        eps(98, [("p1", "n1", "terminating")]),
        nodeport(100.5, 99.5, "n1", "refused"),
        pod(100.5, "p1", "n1", "gone"),
        eps(101, []),
        target(101.5, 96.5, "n1", "draining"),
        pod(106, "p2", "n1", "pending"),
        pod(107, "p2", "n1", "ready"),
        eps(107, [("p2", "n1", "ready")]),
        nodeport(108, 100.5, "n1", "timeout"),
        nodeport(112, 108, "n1", "timeout"),
        nodeport(113, 112, "n1", "connected"),
    ]
    if back_healthy:
        obs.append(target(111.5, 101.5, "n1", "healthy"))
    return windows_of(obs)


def test_the_lb_taking_the_node_back_after_a_seen_drain_opened_the_sure_gap() -> None:
    sure = [w for w in _rollout(True) if w.certain]
    assert [w.cls for w in sure] == ["registered-before-forwarding"]


def test_without_the_return_the_old_pods_death_is_the_cause() -> None:
    windows = _rollout(False)
    assert windows and all(w.cls == "pod-gone-before-deregistered" for w in windows)
