"""Without any kube-proxy probe, ProxyTerminatingEndpoints on only by its version's default
(1.26-1.27) may have been turned off: kube-proxy then closed the node when its last ready pod
began terminating, before the pod died (replay/gate_unlooked.py; docs/semantics.md, "Without
any probes: the misses (session 39, branch s39-noprobemiss)").

The shape of 48 of random 35,000,000-'s 49 misses without probes (35,000,038 node-001 among
them): kube-proxy 1.27, its gate off; the node's one ready pod deleted, listed
serving-terminating, its container stopping seconds later; the LB saw the node unhealthy some
20 s after the deletion. The true window (closed-before-deregistered) opened at kube-proxy's
sync of the serving-terminating change; replay read F surely true there (the gate on by
default) and found only the dead pod's window, which starts too late to hold it. The gate-off
reading now moves the start of a window found without it (kube-proxy's close named) and makes
none of its own.

Literal observations as the API server returns them (Node, Pod, EndpointSlice) and the LB
poller's DescribeTargetHealth answers every 5 s; no kube-proxy probe."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay.builders import at, covers, eps, node, pod, polled, service, target, windows_of

POLLS = [5.0 * k for k in range(1, 40)]


def _p1_deleted(version: str, n1: Callable[[float], str]) -> list[Observation]:
    """n1 and n2 at `version`; p1 ready on n1 and p2 on n2 from 1 s; the LB polled every 5 s,
    n1's target in state `n1(t)`, n2's healthy; p1 deleted at 100 s (listed serving-terminating
    from 100.2 s)."""
    return [
        service(0),
        node(0, "n1", version=version),
        node(0, "n2", version=version),
        pod(1, "p1", "n1", "ready"),
        pod(1, "p2", "n2", "ready"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
        *polled("n1", [1.0, *POLLS], n1, 31805),
        *polled("n2", [1.0, *POLLS], lambda t: "healthy", 31805),
        pod(100, "p1", "n1", "terminating", deleted_at=100),
        eps(100.2, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
    ]


def _deleted_on_n1(version: str, unhealthy: float = 125) -> list[Window]:
    """n1 and n2 at `version`; p1 ready on n1 and p2 on n2 from 1 s; p1 deleted at 100 s
    (listed serving-terminating from 100.2 s), its container stopped at 107 s (seen at 107.5 s,
    dropped from the slice at 108 s); the LB saw n1 unhealthy from `unhealthy` s (polls every
    5 s). n1's windows."""
    observations = [
        *_p1_deleted(version, lambda t: "healthy" if t < unhealthy else "unhealthy"),
        pod(107.5, "p1", "n1", "gone", deleted_at=100, finished=107),
        eps(108, [("p2", "n2", "ready")]),
    ]
    return [w for w in windows_of(observations) if w.node == "n1"]


def test_a_default_gate_may_have_been_off() -> None:
    # 1.27: the gate on by default, and possibly off: kube-proxy may have closed at its sync of
    # the serving-terminating listing (100.2 s), so a window may open there and hold till the
    # LB's unhealthy look. main: only the dead pod's window, opening at 106 s at the earliest
    windows = _deleted_on_n1("v1.27.16")
    assert covers(windows, 100.5, 120)
    (w,) = [w for w in windows if w.start_earliest_us <= to_micros(at(100.5))]
    assert "closed-before-deregistered" in (w.cls, *w.also)


def test_a_ga_gate_forwards_to_the_terminating_pod() -> None:
    # the control: 1.29 (GA, no gate to turn off): kube-proxy forwarded to the
    # serving-terminating pod until it died; no window opens before the death's range
    windows = _deleted_on_n1("v1.29.3")
    assert windows
    assert not covers(windows, 100.5, 120)
    assert all(w.start_earliest_us > to_micros(at(103)) for w in windows)


def test_the_doubt_alone_makes_no_window() -> None:
    # the LB saw n1 unhealthy from 105 s, before p1 stopped (107 s): under the gate's default
    # (on) no window; off, kube-proxy may have closed from 100.2 s until the LB's drain. That
    # reading moves the start of a window found without it and makes none of its own: every
    # 1.26-1.27 rollout without probes would otherwise be a possible window
    assert _deleted_on_n1("v1.27.16", unhealthy=105) == []


def _replaced_on_n1(version: str) -> list[Window]:
    """35,000,050 node-003's shape: n1 and n2 at `version`, the LB healthy throughout; p1 ready
    on n1 from 1 s, deleted at 100 s (serving-terminating from 100.2 s); its replacement p3
    listed ready on n1 at 104.5 s; p1 stopped at 130 s (seen 130.5 s, dropped at 131 s). n1's
    windows."""
    observations = [
        *_p1_deleted(version, lambda t: "healthy"),
        pod(101, "p3", "n1", "pending"),
        pod(104.3, "p3", "n1", "ready"),
        eps(104.5, [("p1", "n1", "terminating"), ("p3", "n1", "ready"), ("p2", "n2", "ready")]),
        pod(130.5, "p1", "n1", "gone", deleted_at=100, finished=130),
        eps(131, [("p3", "n1", "ready"), ("p2", "n2", "ready")]),
    ]
    return [w for w in windows_of(observations) if w.node == "n1"]


def test_a_replacement_listed_beside_the_terminating_pod() -> None:
    # under the default gate (on) kube-proxy may not yet have programmed p3 (within its lag
    # bound, 60 s) when p1 died: a possible window from 129 s, read pod-gone. Had the gate
    # been off, kube-proxy closed at its sync of 100.2 s and opened on programming p3: the
    # window may have opened from there, kube-proxy's close named. main: 129 s, naming nothing
    (w,) = _replaced_on_n1("v1.27.16")
    assert w.start_earliest_us <= to_micros(at(100.2))
    assert "closed-before-deregistered" in (w.cls, *w.also)


def test_a_replacement_beside_a_ga_gate_moves_nothing() -> None:
    # the control: 1.29 (GA): p1 was forwarded to until it died; the window opens there
    (w,) = _replaced_on_n1("v1.29.3")
    assert w.start_earliest_us >= to_micros(at(125))
    assert w.also == ()
