"""The LB's return between two polls and kube-proxy's removal of a dead pod's rules between the
same two polls: an unproven window read at the return's latest instant as
`registered-before-forwarding` names `pod-gone-before-deregistered` (the return may have come
while the dead pod's rules still refused). `undecided.rules_left_unordered` is asked at the
instant the window was read, not at its end, whose look is the one that saw the node serve
again. Literal observations shaped like random 14000567 node-001 at 0.1 s / 1 s
(docs/semantics.md, "The fourth spent set read"); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay.builders import (
    at,
    eps,
    health,
    looks,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)


def _returned(gone: float) -> list[Window]:
    """p1 drained at 97.4 s; its rules refuse from 98.4 s (it stopped: finishedAt 98 s, seen at
    99 s with the slice's last serving endpoint gone) and are gone by `gone` s (the last refused
    look 0.1 s before); the health check counts 0 from 99.3 s; the LB seen draining n1 at 99 s,
    last at 100 s, routing again at 101 s; p2 ready and listed at 100 s; the NodePort and the
    health check answer again at 101.1 s."""
    obs = [
        *one_node("v1.29.3"),
        *looks("n1", 80, 96, 2),
        health(80, None, "n1", 1),
        pod(97.4, "p1", "n1", "terminating", deleted_at=97.4),
        eps(97.7, [("p1", "n1", "terminating")]),
        pod(97.7, "p2", "n1", "pending"),
        nodeport(98.4, 98.3, "n1", "refused"),
        target(99, 98, "n1", "draining"),
        pod(99, "p1", "n1", "gone", deleted_at=97.4, finished=98),
        eps(99, []),
        health(99.3, 99.2, "n1", 0),
        pod(100, "p2", "n1", "ready"),
        eps(100, [("p2", "n1", "ready")]),
        nodeport(gone, gone - 0.1, "n1", "timeout"),
        target(101, 100, "n1", "healthy"),
        nodeport(101.1, 101.0, "n1", "connected"),
        health(101.1, 101.0, "n1", 1),
    ]
    windows = windows_of(obs)
    return [w for w in windows if w.start_earliest_us >= to_micros(at(99.5))]


def test_a_return_against_the_rules_removal_names_the_dead_pods_class() -> None:
    # the rules went away in (100.5, 100.6] s, inside the return's range (100, 101] s
    (window,) = _returned(100.6)
    assert not window.certain
    assert window.cls == RBF
    assert PGBD in window.also


def test_rules_gone_before_the_return_could_come_are_not_named() -> None:
    # gone in (99.9, 100] s: by the last look that saw the LB draining
    (window,) = _returned(100.0)
    assert window.cls == RBF
    assert PGBD not in window.also
