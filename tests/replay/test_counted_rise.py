"""The LB's rise onto a node whose kube-proxy still counted a dead pod, F read from the health
check alone: kube-proxy forwards to every ready endpoint it programmed and counts them on the
healthCheckNodePort after each sync (DESIGN.md section 6), and its informer applies the
EndpointSlice versions in order, so a count that the pods up at the rise cannot explain (a
replacement listed then is shown unprogrammed by a later look counting none while it stayed
ready) is a dead pod's rules: the window the rise opened is `pod-gone-before-deregistered`, not
`registered-before-forwarding` (replay.counted_rise; docs/semantics.md, "Classes on the
fifteenth spent set (session 32)"). Literal observations shaped like random 28,000,498
node-003 with kube-proxy's /configz; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay import builders as b

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999


def _observations(finished: float, programmed: float = 27.6) -> list[Observation]:
    """kube-proxy 1.24 on two nodes, ProxyTerminatingEndpoints off by their /configz, the
    health check every second, an endpoint-driven LB polled every second. n2 serves q1
    throughout. On n1, p1 is deleted at 12.5 s (listed serving-terminating at 12.53 s) and its
    container stops at `finished` (finishedAt, seen at 28.81 s); kube-proxy, slow, counts p1 as
    ready until 25 s, then none, then p2 from `programmed`. p2 turns ready at 20.58 s and is
    listed ready at 20.62 s. The LB routes to n1 to 16 s, drains it from 17 s to 20 s and routes
    to it again from 21 s."""

    def counted(t: float) -> int:
        return 1 if t < 25 or t >= programmed else 0

    return [
        *b.health_pair("v1.24.17", counted, (17, 21), 40, _PORT),
        *[b.proxy_config(0.5, name, {"ProxyTerminatingEndpoints": False}) for name in ("n1", "n2")],
        b.pod(12.49, "p1", "n1", "terminating", deleted_at=12.5),
        b.eps(12.53, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.pod(12.6, "p2", "n1", "pending"),
        b.pod(20.58, "p2", "n1", "ready"),
        b.eps(20.62, [("q1", "n2", "ready"), ("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(28.81, "p1", "n1", "gone", deleted_at=12.5, finished=finished),
        b.eps(28.9, [("q1", "n2", "ready"), ("p2", "n1", "ready")]),
    ]


def _at_return(finished: float, programmed: float = 27.6) -> Window:
    """n1's window that holds the LB's return at 21 s."""
    (window,) = b.windows_holding(_observations(finished, programmed), "n1", 21)
    return window


def test_a_rise_onto_a_dead_pods_rules_is_its_death() -> None:
    # p1 stopped at 16 s (finishedAt), before the LB's return in (20, 21] s; kube-proxy counted
    # one ready endpoint until 25 s, and p2, listed ready at 20.62 s and still so at the 503
    # counting none at 25.001 s, was not programmed then, so the count was p1's: the LB came
    # back to rules for a dead pod. On main: read as p2 left unprogrammed, with nothing right
    # named (the gate stated off)
    window = _at_return(finished=16)
    assert window.cls == PGBD


def test_a_count_the_replacement_may_explain_is_no_proof() -> None:
    # kube-proxy counted p2 from 24 s on, with no look counting none while p2 was listed
    # ready: the count at the LB's return may have been p2's (programmed before the rise, then
    # p1 dropped at the same sync), so nothing proves rules for a dead pod there; the window
    # (the LB back before kube-proxy was seen counting p2) keeps its reading
    window = _at_return(finished=16, programmed=24)
    assert window.cls == RBF


def _restarted() -> list[Observation]:
    """Random 875 node-002's shape: kube-proxy 1.29 on two nodes, the health check every
    second, an endpoint-driven LB polled every second. n2 serves q1 throughout. On n1, p1's
    container crashes at 10 s (its update at 10.4 s, listed unready at 10.6 s) and p1 is ready
    again at 20.39 s (listed ready at 20.54 s); kube-proxy, slow, counts p1 from before the crash
    until 24 s, then none (it synced the crash), then p1 again from 35 s. The LB drains n1 from
    13 s to 20 s and routes to it again from 21 s."""
    return [
        *b.health_pair("v1.29.10", lambda t: 0 if 24 <= t < 35 else 1, (13, 21), 45, _PORT),
        b.pod(10.4, "p1", "n1", "pending", finished=10),
        b.eps(10.6, [("q1", "n2", "ready"), ("p1", "n1", "unready")]),
        b.pod(20.39, "p1", "n1", "ready"),
        b.eps(20.54, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
    ]


def test_a_pod_restarted_in_place_may_be_the_one_counted() -> None:
    # the 503 counting none at 24 s came while p1 was listed ready again since 20.54 s, yet
    # kube-proxy held p1's endpoint from its listing before the crash: the count at the LB's
    # return in (20, 21] s was the live, restarted p1's, and the window opened with
    # kube-proxy's sync of the crash at 24 s, p1 listed ready and not programmed
    (window,) = b.windows_holding(_restarted(), "n1", 21)
    assert window.cls == RBF
