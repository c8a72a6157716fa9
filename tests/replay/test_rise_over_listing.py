"""The LB's return between two polls, read at its latest instant, where the node's replacement
was listed ready inside that range and began terminating just after it: the return may have
come while the listed endpoint was not yet programmed, so `registered-before-forwarding` is
named beside the class read (replay.detect._ready_inside). Literal observations shaped like
random 14000509 node-003 (docs/semantics.md, "The fourth spent set read"); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, RBF
from tests.replay.builders import (
    at,
    eps,
    looks,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)


def _returned(listed: float) -> list[Window]:
    """p1 drained at 94.85 s, the LB seen draining n1 at 96 s; p1 stops (finishedAt 96 s),
    its rules refuse at 98 s and are gone at 100 s; its replacement p2 is listed ready at
    `listed` s; the LB is seen routing again and the NodePort connecting at 102 s (both last
    seen otherwise at 100 s); p2 begins terminating at 102.3 s (seen in the slice at 102.4 s)."""
    obs = [
        *one_node("v1.28.15"),
        *looks("n1", 80, 94, 2),
        pod(94.85, "p1", "n1", "terminating", deleted_at=94.85),
        eps(94.9, [("p1", "n1", "terminating")]),
        pod(95, "p2", "n1", "pending"),
        target(96, 94, "n1", "draining"),
        pod(97, "p1", "n1", "gone", deleted_at=94.85, finished=96),
        eps(97.1, []),
        nodeport(98, 94, "n1", "refused"),
        nodeport(100, 98, "n1", "timeout"),
        pod(listed - 0.2, "p2", "n1", "ready"),
        eps(listed, [("p2", "n1", "ready")]),
        target(102, 100, "n1", "healthy"),
        nodeport(102, 100, "n1", "connected"),
        pod(102.3, "p2", "n1", "terminating", deleted_at=102.3),
        eps(102.4, [("p2", "n1", "terminating")]),
    ]
    windows = windows_of(obs)
    return [w for w in windows if w.start_earliest_us >= to_micros(at(99))]


def test_a_return_whose_range_holds_the_listing_names_registered_before_forwarding() -> None:
    # read at the latest return (102 s), p2 listed ready then: a return after the listing at
    # 100.7 s met p2 listed and not yet forwarded to (the NodePort timed out at 100 s), the
    # truth of random 14000509 node-003; p2's termination, seen within the watch skew after
    # the read instant, is no cause of the LB's return (session 30's rule CA), but it may have
    # come first: `closed-before-deregistered` is named (read so before rule CA, rbf named)
    (window,) = _returned(100.7)
    assert not window.certain
    assert window.cls == RBF
    assert CBD in window.also


def test_a_listing_after_the_latest_return_is_not_named() -> None:
    # listed only at 102.1 s: at every instant the LB may have come back, nothing was listed
    (window,) = _returned(102.1)
    assert RBF not in window.also
