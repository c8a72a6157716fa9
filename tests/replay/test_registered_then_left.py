"""An LB's return to a node for a ready endpoint that left again right after it: the window the
registration opened is kube-proxy's unprogrammed listing (`registered-before-forwarding`), and
the endpoint's leaving, seen within the watch skew after the LB's latest rise, is no cause of a
registration (a CCM registers a node for its ready endpoints, a health check passes on a ready
one counted: the design notes, section 6); it may still have come first (seen late), so the
reading without the ready endpoint stays named. Literal observations shaped like random
26,000,057 node-004 (docs/semantics.md, "Classes on the thirteenth spent set (session 30)");
times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, RBF
from tests.replay.builders import eps, health, nodeport, one_node, pod, target, windows_of

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999


def _crash_loop(left_at: float, *more: Observation) -> list[Window]:
    """n1 (kube-proxy 1.24, its gate off by default) loses its one pod p1 at 9 s (a crash,
    listed unready at 9.4 s); the LB, polled every 2 s, drains the node from 12 s. p1 is ready
    again at 19.3 s and listed ready at 19.6 s; the LB is seen routing again at 20 s (last
    seen draining at 18 s); p1 crashes again and its endpoint is seen unready at `left_at`.
    Looks every 5 s: the NodePort times out at 11 and 16 s and is refused at 21 s (rules for
    the dead pod), the health check counts p1 at 21 s. The LB drains the node from 24 s."""
    obs = [
        *one_node("v1.24.17"),
        nodeport(6, None, "n1", "connected"),
        health(6, None, "n1", 1),
        target(8, None, "n1", "healthy", check_port=_PORT),
        pod(9.2, "p1", "n1", "pending", finished=9),
        eps(9.4, [("p1", "n1", "unready")]),
        target(10, 8, "n1", "healthy", check_port=_PORT),
        nodeport(11, 6, "n1", "timeout"),
        health(11, 6, "n1", 0),
        *[target(t, t - 2, "n1", "draining", check_port=_PORT) for t in (12, 14, 16, 18)],
        nodeport(16, 11, "n1", "timeout"),
        health(16, 11, "n1", 0),
        pod(19.3, "p1", "n1", "ready"),
        eps(19.6, [("p1", "n1", "ready")]),
        target(20, 18, "n1", "healthy", check_port=_PORT),
        pod(left_at - 0.1, "p1", "n1", "pending", finished=20),
        eps(left_at, [("p1", "n1", "unready")]),
        nodeport(21, 16, "n1", "refused"),
        health(21, 16, "n1", 1),
        target(22, 20, "n1", "healthy", check_port=_PORT),
        *[target(t, t - 2, "n1", "draining", check_port=_PORT) for t in (24, 26, 28)],
        nodeport(26, 21, "n1", "timeout"),
        health(26, 21, "n1", 0),
        *more,
    ]
    return [w for w in windows_of(obs) if w.start_latest_us > 0 and w.certain]


def _returned(windows: list[Window]) -> Window:
    """The window the LB's return in (18, 20] s opened."""
    (window,) = [w for w in windows if w.start_latest_us == max(v.start_latest_us for v in windows)]
    return window


def test_a_leaving_seen_after_the_lbs_rise_is_no_cause_of_it() -> None:
    # the endpoint seen unready 0.4 s after the LB's latest rise (inside the watch skew):
    # the LB took the node back for the listed ready endpoint, which kube-proxy had not
    # programmed (it was refused at 21 s: the rules came after the pod's second crash)
    window = _returned(_crash_loop(20.4))
    assert window.cls == RBF
    # the leaving may have preceded the rise (seen late): then nothing was listed, no rules
    assert CBD in window.also


def test_a_leaving_seen_past_the_skew_reads_as_before() -> None:
    # seen 0.9 s after the rise, past the watch skew: the endpoint surely listed at the rise
    window = _returned(_crash_loop(20.9))
    assert window.cls == RBF
