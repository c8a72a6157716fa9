"""A pod's update that says it is terminating is not a sighting of its container up at the
time replay places it: that update is the DELETE's write, whose time is known to the second
at best (metav1.Time; replay.owntime places it at the latest the stamp allows, or where the
object carries no stamp at the time the watch delivered it), and its status is the kubelet's
last report. So the pods-up lane (replay.podsup, F read from the health check) lets the
death begin up to a stamp's resolution before that update, within its finishedAt's range.
Shaped like random 21,000,882 node-004 and 21,000,412 node-006 (the eighth spent set read,
`--without-nodeport`: the container stopped 0.5 s / 0.1 s before the instant its terminating
update was placed at; the window found began there, so the true window was missed).

Literal observations: kube-proxy 1.29, no NodePort probe, a node-driven LB polled every 2 s
(routing to n1 throughout), the health check every 2 s. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay import builders as b


def _rollout(terminating_seen: float) -> Window:
    """p1 on n1 ready from 0.5 s is deleted at 92.2 s; the watch delivers that update at
    `terminating_seen`, with the slice's serving-terminating endpoint. Its container stops at
    92.4 s (finishedAt 92 s to the second), seen gone at 93.2 s with the slice listing nothing;
    the replacement p2, Ready at 94 s, is listed at 94.2 s. The health check counts p1 at 91 s,
    nothing at 93 s and p2 at 95 s."""
    obs: list[Observation] = [
        b.service(0),
        b.node(0, "n1", version="v1.29.3"),
        b.pod(0.5, "p1", "n1", "ready"),
        b.eps(0.5, [("p1", "n1", "ready")]),
        b.pod(terminating_seen, "p1", "n1", "terminating", deleted_at=92.2, grace=10),
        b.eps(terminating_seen, [("p1", "n1", "terminating")]),
        b.pod(92.5, "p2", "n1", "pending", revision="bbb"),
        b.pod(93.2, "p1", "n1", "gone", deleted_at=92.2, grace=10, finished=92.4),
        b.eps(93.3, []),
        b.pod(94, "p2", "n1", "ready", revision="bbb"),
        b.eps(94.2, [("p2", "n1", "ready")]),
    ]
    prev: float | None = None
    for t in range(1, 131, 2):
        obs.append(b.target(t, prev, "n1", "healthy", "ADDED" if prev is None else "MODIFIED"))
        obs.append(b.health(t, prev, "n1", 0 if t == 93 else 1))
        prev = t
    (window,) = [w for w in b.windows_of(obs) if w.node == "n1"]
    return window


def test_a_death_before_the_terminating_update_was_placed_may_open_the_window() -> None:
    # the update placed at 92.9 s was written at the DELETE (92.2 s); the container stopped at
    # 92.4 s, inside its finishedAt's range: the window may begin then
    window = _rollout(92.9)
    assert window.cls == PGBD
    assert window.start_earliest_us <= to_micros(b.at(92.4))
