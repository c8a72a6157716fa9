"""The health check's count read against kube-proxy's order of versions (replay.held): kube-proxy
answers with the ready local count of the version it synced and never goes back to an older
version, so after looks counting none (every version listing the terminating pod ready behind
it), a look counting one can only be a version that lists the replacement ready and the
terminating pod not: kube-proxy forwards to the replacement alone (KEP-1669), dead or not.
Main took the terminating pod as possibly counted and forwarded to (ready within kube-proxy's
lag bound) and read the node as served (random 28,000,347 node-003 without NodePort probes:
missed).

Literal observations, no NodePort probe (the recorder's default for a LoadBalancer Service):
Pods and EndpointSlices as the watch returns them, the health-check node port's answers every
second, the LB's target health every 2 s; kube-proxy 1.26 (its ProxyTerminatingEndpoints gate
on by default). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay import builders as b


def _p1_on_n1() -> list[Observation]:
    """The Service, n1 (kube-proxy 1.26) and its pod p1, ready, listed and routed to from 1 s."""
    return [
        b.service(0),
        b.node(0, "n1", version="v1.26.15"),
        b.pod(1, "p1", "n1", "ready"),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
    ]


def _stale(late: bool) -> list[Window]:
    """p1 on n1 is deleted at 7 s (grace 60 s, a long preStop hook: it serves past the
    recording's end at 45 s); the slice lists it serving-terminating from 7.3 s and the health
    check answers 503 counting none from 8 s (the LB drains n1). Its replacement p2 is Ready at
    12.3 s, listed ready at 13.8 s; its container crashes at 16 s (the Pod update saying so
    seen at 17 s), the slice lists it not ready at 17.5 s. `late`: kube-proxy, behind, programs
    the 13.8 s version at 22 s (200 counting one to 29 s) and the 17.5 s one at 30 s (503
    counting none again); the LB routes to n1 from 23 s to 31 s. Else the health check counts
    none throughout and the LB keeps n1 drained."""
    obs: list[Observation] = [
        *_p1_on_n1(),
        *b.terminating_swap(7, 7.3, 9, 12.3, 13.8, grace=60),
        b.pod(17, "p2", "n1", "pending", finished=16),
        b.eps(17.5, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
    ]
    for t in range(2, 46):
        count = 1 if t < 8 else (1 if late and 22 <= t < 30 else 0)
        obs.append(b.health(t, t - 1, "n1", count))
    for t in range(3, 46, 2):
        routed = t < 8 or (late and 23 <= t < 31)
        obs.append(b.target(t, t - 2, "n1", "healthy" if routed else "draining"))
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_a_count_after_none_shows_kube_proxy_on_the_dead_replacement_alone() -> None:
    # from 22 s kube-proxy holds the 13.8 s version (the only one counting one after the
    # versions counting none): p2 alone, dead since 16 s; p1 takes no traffic while a ready
    # endpoint is programmed. The LB routed to n1 from 23 s: a gap, certain, to 29 s at least
    # (its class is read closed-before-deregistered: not this rule's reading)
    found = _stale(late=True)
    assert any(
        w.certain
        and w.start_latest_us <= to_micros(b.at(23))
        and w.end_earliest_us >= to_micros(b.at(29))
        for w in found
    ), found


def test_counts_of_none_leave_the_terminating_pod_forwarded() -> None:
    # kube-proxy never counted p2 and the LB never routed to n1 after 8 s: p2's crash opens
    # no window (only the drain at 7-9 s)
    assert all(w.end_latest_us <= to_micros(b.at(9)) for w in _stale(late=False))


def _fallen(counted_two: bool) -> list[Window]:
    """p1 and its replacement p2 on n1 both listed ready from 4.5 s (p2 Ready at 4 s); p1 is
    deleted at 10 s (grace 60 s, a long preStop hook) and listed serving-terminating at 10.3 s;
    p2's container crashes at 25 s (the Pod update saying so seen at 25.6 s), the slice lists
    it not ready at 26 s. The health check counts `2` from 6 s where `counted_two` (else one
    throughout), one from 11 s, none from 27 s (kube-proxy, its gate on, falls back to p1);
    the LB drains n1 from 29 s."""
    obs: list[Observation] = [
        *_p1_on_n1(),
        b.pod(3, "p2", "n1", "pending"),
        b.pod(4, "p2", "n1", "ready"),
        b.eps(4.5, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        b.pod(10, "p1", "n1", "terminating", deleted_at=10, grace=60),
        b.eps(10.3, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(25.6, "p2", "n1", "pending", finished=25),
        b.eps(26, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
    ]
    for t in range(2, 46):
        count = (2 if counted_two else 1) if 6 <= t < 11 else 0 if t >= 27 else 1
        obs.append(b.health(t, t - 1, "n1", count))
    for t in range(3, 46, 2):
        obs.append(b.target(t, t - 2, "n1", "healthy" if t < 29 else "draining"))
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_a_count_falling_from_two_shows_kube_proxy_past_the_deletion() -> None:
    # after looks counting two (p1 and p2), a count of one is a version after p1's deletion:
    # kube-proxy forwards to p2 alone from 11 s, and p2's crash (25-25.6 s) leaves n1 nothing
    # until kube-proxy programs its not-ready listing (26 s, less the watch skew, to the 503
    # at 27 s). Main read p1 as forwarded throughout (its shadow needs p2's Ready written after
    # p1's deletion): no window
    assert any(
        w.start_earliest_us <= to_micros(b.at(25.6)) and w.end_latest_us >= to_micros(b.at(26.5))
        for w in _fallen(counted_two=True)
    )


def test_a_count_of_one_throughout_may_be_the_version_before_the_replacement() -> None:
    # counting one from 2 s to 26 s: the version kube-proxy holds may be the one listing p1
    # alone (kube-proxy never shown to program p2), which it forwards to through its deletion
    assert all(w.start_earliest_us >= to_micros(b.at(26)) for w in _fallen(counted_two=False))
