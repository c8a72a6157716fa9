"""A kube-proxy restart is no sync of an unseen excursion's loss (replay.unseen `_programmed`):
random 25,000,723 node-003's shape. kube-proxy 1.25 (ProxyTerminatingEndpoints at its default,
off); the old pod p1 terminating, its endpoint listed serving-terminating (no ready endpoint on
the node) for 0.5 s before the replacement p2 was listed ready: kube-proxy closed and opened
again between two NodePort looks 1 s apart, which both connected. Minutes later kube-proxy
restarted: its health port refused one look, then answered 200. That refusal was read as
kube-proxy having synced the excursion's loss, so the unseen gap was placed just before the
200 (seconds after it truly was) and the true window went unreported."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import (
    covers,
    eps,
    health,
    looks,
    one_node,
    pod,
    target,
    windows_of,
)
from tests.replay.test_restart_listing import _refused


def _swap(after: list[Observation]) -> list[Observation]:
    """n1 (kube-proxy 1.25): p1 ready, deleted at 100 s and listed serving-terminating at
    101.3 s; p2 ready at 101.6 s and listed at 101.8 s; p1 dies at 104.5 s and leaves the slice
    at 105.3 s. The NodePort connects at every look (1 s), the health check answers 200
    counting 1 at 2 s; `after` is what it answers next. The LB routes throughout."""
    return [
        *one_node("v1.25.16"),
        *looks("n1", 2, 120, 1),
        health(2, None, "n1", 1),
        pod(100, "p1", "n1", "terminating", deleted_at=100),
        eps(101.3, [("p1", "n1", "terminating")]),
        pod(101.6, "p2", "n1", "ready"),
        eps(101.8, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(104.5, "p1", "n1", "gone", deleted_at=100, finished=104),
        eps(105.3, [("p2", "n1", "ready")]),
        *[target(t, t - 2, "n1", "healthy") for t in range(3, 121, 2)],
        *after,
    ]


def test_a_refused_look_after_the_excursion_does_not_move_its_gap() -> None:
    # kube-proxy restarts at 108 s: refused at 109 s, 200 counting 1 at 111 s. The gap the
    # excursion hides lies in (101.3, 101.8 s + kube-proxy's lag), wherever the restart came
    found = windows_of(_swap([_refused(109, 108), health(111, 110, "n1", 1)]))
    assert covers(found, 101.4, 102.0)
    assert all(not w.certain for w in found)


def test_a_503_after_the_excursion_still_bounds_it() -> None:
    # the control: a 503 counting none at 102.5 s shows kube-proxy synced the loss, the 200 at
    # 103.5 s the return programmed by then: the gap lies around that 503, as before
    found = windows_of(_swap([health(102.5, 102, "n1", 0), health(103.5, 103, "n1", 1)]))
    assert covers(found, 102.4, 102.6)
