"""An unproven window F read from the health check alone is read no later than the first look
in it that saw kube-proxy closed. The health check answers 503 counting no ready local
endpoint only after a rules sync that left the node none (it pushes its counts after each
sync: DESIGN.md section 6), and with ProxyTerminatingEndpoints off kube-proxy forwards to ready
endpoints only, so such an answer is a look that saw F false: whatever F did before and after
it (the two looks around it answered 200), a gap there had opened by that look. Reading the
window at the end of F's possible stretch instead (the next 200) read it where the
replacement was listed and the terminating pod had died since, and named the death its cause
(docs/semantics.md, "Classes without the NodePort probes, the twenty-first spent set").
Literal observations shaped like random 34,000,582 node-002 without NodePort probes
(kube-proxy 1.25, an endpoint-driven LB); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, PGBD
from tests.replay import builders as b

#: the NodePort: the LB checks the traffic port (endpoint-driven, replay.context.ccm_mode)
_TRAFFIC = 32999


def _observations(configz: bool, closed: bool = True) -> list[Observation]:
    """kube-proxy 1.25 on two nodes (ProxyTerminatingEndpoints off by default; stated off by
    /configz where `configz`), the health check every 5 s, the LB polled every second and
    routing to both nodes throughout. n2 serves q1 throughout. On n1, p1 is deleted at 12 s
    (listed serving-terminating at 12.1 s); p2, created at 12.2 s, is ready at 16 s (listed
    16.1 s); p1's container stops at 17 s (finishedAt, seen at 17.3 s, unlisted at 17.4 s).
    n1's health check answered 200 at 10 s, 503 counting none at 15 s (`closed`; else 200) and
    200 from 20 s."""
    every = [5.0 * k + 0.001 for k in range(1, 12)]
    polls = [float(k) for k in range(1, 55)]
    return [
        *b.gate_off_pair("v1.25.16", configz),
        *b.health_looks("n2", every, lambda t: 1),
        *b.health_looks("n1", every, lambda t: 0 if closed and 15 <= t < 20 else 1),
        b.pod(0.2, "q1", "n2", "ready"),
        b.pod(0.3, "p1", "n1", "ready"),
        b.eps(0.5, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
        *b.polled_healthy("n1", polls, _TRAFFIC),
        *b.polled_healthy("n2", polls, _TRAFFIC),
        b.pod(11.99, "p1", "n1", "terminating", deleted_at=12),
        b.eps(12.1, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.pod(12.2, "p2", "n1", "pending"),
        b.pod(16, "p2", "n1", "ready"),
        b.eps(16.1, [("q1", "n2", "ready"), ("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(17.3, "p1", "n1", "gone", deleted_at=12, finished=17),
        b.eps(17.4, [("q1", "n2", "ready"), ("p2", "n1", "ready")]),
    ]


def _windows(configz: bool, closed: bool = True) -> list[Window]:
    """n1's windows that may hold 15 s."""
    return b.windows_holding(_observations(configz, closed), "n1", 15)


def test_a_503_before_the_death_reads_the_close() -> None:
    # the gate off by /configz: the 503 at 15 s saw kube-proxy's rules without p1 (it synced
    # p1's termination and forwards to no terminating endpoint), 2 s before p1 died. On main:
    # read at 20 s, with p2 listed and p1 dead since 17 s, as p1's death (the close named)
    (window,) = _windows(configz=True)
    assert window.cls == CBD
    assert PGBD not in window.also


def test_the_version_default_reads_the_same() -> None:
    # no /configz: 1.25's default (the gate off) reads the 503 as the close, the likelier
    # reading; the death is still named, as a gate turned on would have forwarded to p1
    (window,) = _windows(configz=False)
    assert window.cls == CBD
    assert PGBD in window.also


def test_without_a_503_the_window_is_read_as_before() -> None:
    # no look saw the close: nothing moves the reading (the health check's 200s only)
    assert all(w.cls in (CBD, PGBD) for w in _windows(configz=True, closed=False))
