"""A window read as kube-proxy's close from a health check's 503, on a kube-proxy whose
ProxyTerminatingEndpoints gate reads off by its version's default alone (1.22-1.25, nothing
states it), names the terminating pod's death where that pod died later inside the window. The
health check never counts a terminating endpoint, whatever the gate (DESIGN.md section 6), so
its 503 is kube-proxy's close only under the gate off; had the gate been turned on, kube-proxy
forwarded to the serving-terminating pod past the 503 until it died, and the gap opened with
the death (docs/semantics.md, "Classes without the NodePort probes, the twenty-second spent
set"). Literal observations shaped like random 35,000,278 node-004 without NodePort probes
(kube-proxy 1.24, the gate drawn on: read `closed-before-deregistered` naming nothing, the
truth the death); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, PGBD
from tests.replay import builders as b

#: the NodePort: the LB checks the traffic port (endpoint-driven, replay.context.ccm_mode)
_TRAFFIC = 32999


def _observations(configz: bool, routed_until: float = 60.0) -> list[Observation]:
    """kube-proxy 1.24 on two nodes (ProxyTerminatingEndpoints off by default; stated off by
    /configz where `configz`), the health check every 5 s, the LB polled every second. n2 serves
    q1 throughout. On n1, p1 is deleted at 14.6 s and listed serving-terminating at 15.1 s (after
    the 503 of 15 s, within the watch skew); its container stops at 19 s (finishedAt, seen at
    20 s, unlisted at 20.2 s); nothing replaces it. n1's health check answered 200 to 10 s and
    503 counting none from 15 s; the LB routes to n1 until `routed_until`, then drains it."""
    every = [5.0 * k + 0.001 for k in range(1, 14)]
    polls = [float(k) for k in range(1, 65)]
    return [
        *b.gate_off_pair("v1.24.17", configz),
        *b.health_looks("n2", every, lambda t: 1),
        *b.health_looks("n1", every, lambda t: 1 if t < 15 else 0),
        b.pod(0.2, "q1", "n2", "ready"),
        b.pod(0.3, "p1", "n1", "ready"),
        b.eps(0.5, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
        b.target(polls[0], None, "n1", "healthy", "ADDED", check_port=_TRAFFIC),
        *b.polled(
            "n1",
            polls,
            lambda t: "healthy" if t < routed_until else "draining",
            _TRAFFIC,
        ),
        *b.polled_healthy("n2", polls, _TRAFFIC),
        b.pod(14.6, "p1", "n1", "terminating", deleted_at=14),
        b.eps(15.1, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.pod(20, "p1", "n1", "gone", deleted_at=14, finished=19),
        b.eps(20.2, [("q1", "n2", "ready")]),
    ]


def _windows(configz: bool, routed_until: float = 60.0) -> list[Window]:
    """n1's windows that may hold 15 s."""
    return b.windows_holding(_observations(configz, routed_until), "n1", 15)


def test_the_version_default_names_the_later_death() -> None:
    # no /configz: 1.24's default (the gate off) reads the 503 at 15 s as the close, the
    # likelier reading; a gate turned on forwarded to p1 until it died in [18, 20] s, the LB
    # still routing: that reading is named. On main: the close, naming nothing
    (window,) = _windows(configz=False)
    assert window.certain
    assert window.cls == CBD
    assert PGBD in window.also


def test_the_gate_stated_off_names_nothing() -> None:
    # /configz states the gate off: kube-proxy forwarded to no terminating endpoint after the
    # sync the 503 shows, so the death took no traffic
    (window,) = _windows(configz=True)
    assert window.cls == CBD
    assert PGBD not in window.also


def test_a_death_after_the_window_names_nothing() -> None:
    # the LB drained n1 at 17 s, before p1 can have died (finishedAt 19 s, the node's clock
    # within 1 s): under either gate the gap closed before the death
    (window,) = _windows(configz=False, routed_until=17.0)
    assert window.cls == CBD
    assert PGBD not in window.also
