"""A Node deletion seen just after a window's start does not make the window `node-not-ready`
where the node answered at that start: an HTTP status from the health-check node port comes
from kube-proxy's own server on the node, so the node and kube-proxy were up when the window
began and went down after it (replay.detect `_deleted_by`, as `_went_down` already read a
NotReady). Shaped like random 21,000,990 node-001 (the eighth spent set read: kube-proxy 1.24
closed on a terminating pod's endpoint, the look after the close answered 503, then the
machine went away and its Node's deletion was seen 0.2 s after that look; read certain
`node-not-ready` with nothing named, truth `closed-before-deregistered`).

Literal observations: NodePort and health-check looks every 0.5 s, the LB polled every 2 s
(a node-driven LB: it checks the health-check node port). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, NNR
from tests.replay import builders as b

_V = "v1.24.17"


def _deleted(closed_answered: bool) -> list[Window]:
    """p1 on n1 is deleted at 2 s (serving-terminating in the slice from 2.1 s); the looks at
    0.5-2.5 s connect and count it (200). The look at 3.0 s finds no rules on the NodePort
    (timeout) and, where `closed_answered`, a 503 counting nothing on the health-check port
    (kube-proxy closed, the gate off by 1.24's default); else no answer there either (the node
    already gone). Every look from 3.5 s times out; the Node's deletion is seen at 3.2 s; the LB
    still routes to n1 until it is seen draining at 12 s."""
    obs: list[Observation] = [
        b.service(0),
        b.node(0, "n1", version=_V),
        b.pod(0.2, "p1", "n1", "ready"),
        b.eps(0.2, [("p1", "n1", "ready")]),
        b.target(0.5, None, "n1", "healthy", "ADDED"),
        *(b.target(t, t - 2, "n1", "healthy") for t in (2.5, 4.5, 6.5, 8.5, 10.5)),
        b.target(12.5, 10.5, "n1", "draining"),
        b.pod(2.0, "p1", "n1", "terminating", deleted_at=2, grace=30),
        b.eps(2.1, [("p1", "n1", "terminating")]),
        b.node_deleted(3.2, "n1"),
    ]
    prev: float | None = None
    for i in range(1, 26):
        t = i * 0.5
        up = t <= 2.5
        obs.append(b.nodeport(t, prev, "n1", "connected" if up else "timeout"))
        answered = up or (t == 3.0 and closed_answered)
        obs.append(b.health(t, prev, "n1", (1 if up else 0) if answered else None))
        prev = t
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_a_node_that_answered_at_the_start_was_not_down_then() -> None:
    # the 503 at 3.0 s is kube-proxy answering after it closed: the window began with that
    # close while the node was up; its deletion seen 0.2 s later does not date the start
    (window,) = _deleted(closed_answered=True)
    assert window.certain
    assert window.cls == CBD
    assert NNR not in window.also


def test_a_node_silent_from_the_start_on_is_still_read_down() -> None:
    # no answer at 3.0 s: nothing shows the node up at the start, the deletion seen within the
    # watch skew reads as its end there, as before
    (window,) = _deleted(closed_answered=False)
    assert window.cls == NNR
