"""Rule CG: the LB's rise against kube-proxy dropping a dead pod it still counted, F read from
the health check alone. kube-proxy counts the ready local endpoints its last sync programmed
on the healthCheckNodePort (pushed after the sync that wrote the rules: kube-proxy's
pkg/proxy/healthcheck/service_health.go) and forwards to every ready endpoint it programmed;
where the last look of a run counting a dead pod falls inside the LB's rise range and the
next change after it, the sync that dropped the pod lies between the two, unordered against
the rise: the window names `pod-gone-before-deregistered` (replay.counted_rise
`dead_count_unordered`; docs/semantics.md, "Classes without the NodePort probes, the
twenty-third set, and rule CG re-read (session 40)"). Literal observations shaped like random
33,000,202 node-003 with the gate stated off by /configz; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay import builders as b

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999


def _observations(dropped: float) -> list[Observation]:
    """kube-proxy 1.24 on two nodes, ProxyTerminatingEndpoints off by their /configz, the health
    check every second, an endpoint-driven LB polled every second. n2 serves q1 throughout. On
    n1, p1 is deleted at 12.5 s (listed serving-terminating at 12.53 s) and its container stops
    at 15 s (finishedAt, seen at 28.81 s); kube-proxy counts p1 as ready until `dropped`, then
    none, then p2 from 27.6 s. p2 turns ready at 18.58 s and is listed ready at 18.62 s. The LB
    routes to n1 to 16 s, drains it from 17 s and routes to it again from 20 s."""
    return [
        *b.health_pair(
            "v1.24.17", lambda t: 1 if t < dropped or t >= 27.6 else 0, (17, 20), 40, _PORT
        ),
        *[b.proxy_config(0.5, name, {"ProxyTerminatingEndpoints": False}) for name in ("n1", "n2")],
        b.pod(12.49, "p1", "n1", "terminating", deleted_at=12.5),
        b.eps(12.53, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.pod(12.6, "p2", "n1", "pending"),
        b.pod(18.58, "p2", "n1", "ready"),
        b.eps(18.62, [("q1", "n2", "ready"), ("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(28.81, "p1", "n1", "gone", deleted_at=12.5, finished=15),
        b.eps(28.9, [("q1", "n2", "ready"), ("p2", "n1", "ready")]),
    ]


def _at_return(dropped: float) -> Window:
    """n1's window that holds the LB's return at 20 s."""
    (window,) = b.windows_holding(_observations(dropped), "n1", 20)
    return window


def test_a_dead_count_ending_inside_the_rise_names_the_death() -> None:
    # p1 stopped at 15 s (finishedAt); kube-proxy counted one ready endpoint at 19.001 s, when
    # p2 (listed at 18.62 s) was still ready at the 503 counting none at 20.001 s, so the count
    # was p1's; the LB came back in (19, 20] s: before or after the sync that dropped p1, which
    # lies in (19.001, 20.001] s. On main: p2 left unprogrammed or the close, the death unnamed
    window = _at_return(dropped=20)
    assert window.cls != PGBD
    assert PGBD in window.also


def test_a_close_seen_before_the_rise_names_no_death() -> None:
    # kube-proxy answered 503 counting none from 16.001 s, before the LB came back: its rules
    # for p1 were gone before the rise, so the rise met no dead pod's rules
    window = _at_return(dropped=16)
    assert PGBD not in window.also
