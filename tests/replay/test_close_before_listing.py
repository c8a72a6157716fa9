"""An uncertain window that merges kube-proxy's unseen close before a drain the LB poller saw
with the LB's possible return after it, read from the return: the reading of the piece before
the drain, kube-proxy's close at its latest instant with the replacement listed by then, is
`registered-before-forwarding`, but the replacement was listed inside that piece, so the close
may have come before the listing (kube-proxy without ProxyTerminatingEndpoints drops a
terminating endpoint at the sync that applies it: KEP-1669, the design notes, section 6), with
the LB still routing: `closed-before-deregistered` is named (replay.undecided.listed_inside;
docs/semantics.md, "Classes on the fourteenth spent set (session 31)"). Literal observations
shaped like random 27,000,179 node-003; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.fold import Sample
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, listed_inside
from tests.replay import builders as b

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999


def _observations(listed: float) -> list[Observation]:
    """kube-proxy 1.24 (the gate off by default), an endpoint-driven LB polled every 10 s, the
    NodePort and the health check looked at every 5 s, each answering as before at every look
    (connected, 200). p1 is deleted at 20.2 s (a long preStop: serving-terminating); its
    replacement p2 is listed ready at `listed`. The LB routes to n1 at 10 s and 20 s, drains it
    at 30 s and routes to it again at 40 s."""
    every = [k * 5 + 1.05 for k in range(12)]
    states = {10: "healthy", 20: "healthy", 30: "draining", 40: "healthy", 50: "healthy"}
    return [
        b.service(0),
        b.node(0, "n1", version="v1.24.17"),
        b.pod(0.5, "p1", "n1", "ready"),
        b.eps(0.6, [("p1", "n1", "ready")]),
        *b.looks("n1", every[0], every[-1], 5),
        *b.health_looks("n1", every, lambda t: 1),
        b.target(10, None, "n1", "healthy", "ADDED", check_port=_PORT),
        *[b.target(t, t - 10, "n1", s, check_port=_PORT) for t, s in states.items() if t > 10],
        b.pod(20.2, "p1", "n1", "terminating", deleted_at=20, grace=60, prestop=38),
        b.eps(20.23, [("p1", "n1", "terminating")]),
        b.pod(20.3, "p2", "n1", "pending"),
        b.pod(listed - 0.1, "p2", "n1", "ready"),
        b.eps(listed, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
    ]


def _window(listed: float) -> Window:
    (window,) = [w for w in b.windows_of(_observations(listed)) if w.node == "n1"]
    return window


def test_the_close_before_the_listing_is_named() -> None:
    # no look saw kube-proxy close: it dropped p1 at a sync after 20.23 s and programmed p2
    # after its listing at 23.52 s; the LB drained n1 after the endpoints lost their ready one
    # and took it back after 30 s. The window may have opened with the LB's return (before
    # kube-proxy programmed p2) or with kube-proxy's close while the LB still routed (before
    # the drain): on main only the return's reading was named
    window = _window(23.52)
    assert not window.certain
    assert window.cls == CBD or CBD in window.also


def test_listed_inside_reads_only_a_listing_inside_the_range() -> None:
    lane = [Sample(0, None, "ready", 1), Sample(10, None, "none", 2), Sample(20, None, "ready", 3)]
    assert listed_inside(lane, 5, 25)  # none listed at 10: the listing at 20 fell inside
    assert listed_inside(lane, 15, 25)  # nothing ready at the range's start
    assert not listed_inside(lane, 21, 25)  # ready all through: listed before the range
    assert not listed_inside(lane, 5, 15)  # nothing ready at the range's end
