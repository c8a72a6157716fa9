"""A window read from a local pod's death, whose LB may have dropped the node for its failed
health checks before that death and taken it back by failing open inside the start range,
names the LB's rise too (replay/failopen_rise.py; docs/semantics.md, "Classes on the
eighteenth spent set (session 35, branch s35-class)", rule FO).

Random 31,000,659 node-003's shape: a Service scaled to zero on kube-proxy 1.26 with
ProxyTerminatingEndpoints; every node's health check answers 503 once its pod is terminating
(no ready local endpoint), the pods die one by one (each forwarded to, serving-terminating,
until it dies), and the LB, which had stopped routing to each node for its failed checks,
fails open when the last target turns unhealthy: every node's loss begins there, on rules
kube-proxy may have removed by then (`closed-before-deregistered` in the simulator's truth).
Main read n1's window as a certain `pod-gone-before-deregistered` naming nothing else: the
death in the start range, the LB read as routing throughout (healthy, then failing open).

Literal observations as the API server returns them (Service, Node, Pod, EndpointSlice), the
prober's health-check and NodePort looks every second and the LB poller's DescribeTargetHealth
answers every 5 s."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    eps,
    health_looks,
    looks,
    node,
    pod,
    polled,
    service,
    windows_of,
)

SCALED = 60.0
P1_DIES = 90.5
SECONDS = [float(k) for k in range(1, 200)]


def _refused_from(died: float) -> Callable[[float], str]:
    """A NodePort look's answer: connected while the pod lived, refused after (its rules
    forward to an address with nothing behind it)."""
    return lambda t: "connected" if t < died else "refused"


def _scaled_to_zero(health_from: float, unhealthy_at: float) -> list[Window]:
    """p1 on n1 and p2 on n2 (1.26) ready from 1 s; both deleted at 60 s (a scale to zero),
    serving-terminating from 60.1 s; their health checks answer 503 from `health_from`; p2
    dies at 84.5 s, p1 at 90.5 s (each NodePort refused from the next look, the dead pod's
    rules, each death reported a second later, the slice dropping it after); the LB polled
    every 5 s saw both targets healthy until `unhealthy_at`, unhealthy from it (failing
    open). n1's windows."""
    deaths = {"n1": P1_DIES, "n2": 84.5}
    observed: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.26.15"),
        node(0, "n2", version="v1.26.15"),
        pod(1.0, "p1", "n1", "ready"),
        pod(1.0, "p2", "n2", "ready"),
        eps(1.0, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        pod(SCALED, "p1", "n1", "terminating", deleted_at=SCALED, grace=30),
        pod(SCALED, "p2", "n2", "terminating", deleted_at=SCALED, grace=30),
        eps(SCALED + 0.1, [("p1", "n1", "terminating"), ("p2", "n2", "terminating")]),
        pod(85.5, "p2", "n2", "gone", deleted_at=SCALED, finished=84.0),
        eps(86.0, [("p1", "n1", "terminating")]),
        pod(P1_DIES + 1.0, "p1", "n1", "gone", deleted_at=SCALED, finished=90.0),
        eps(P1_DIES + 2.3, []),
    ]
    polls = [5.0 * k for k in range(0, 40)]
    for name in ("n1", "n2"):
        observed += health_looks(name, SECONDS, lambda t: 1 if t < health_from else 0)
        observed += looks(name, 1.0, 199.0, 1.0, _refused_from(deaths[name]))
        observed += polled(
            name, polls, lambda t: "healthy" if t < unhealthy_at else "unhealthy", 31805
        )
    return [w for w in windows_of(observed) if w.node == "n1"]


def test_a_fail_open_inside_the_start_range_is_named() -> None:
    # main: a certain pod-gone-before-deregistered naming nothing else
    (w,) = _scaled_to_zero(SCALED + 1, 95.0)
    assert w.certain
    assert w.cls == "pod-gone-before-deregistered"
    assert "closed-before-deregistered" in w.also


def test_checks_failing_too_briefly_to_drop_the_node_name_nothing_more() -> None:
    # the control: the health checks answered 503 only from 85 s, less than the LB's three
    # failed checks 10 s apart before the fail-open's latest start: the LB still routed to
    # n1 when p1 died, the death is the one reading
    (w,) = _scaled_to_zero(85.0, 95.0)
    assert w.cls == "pod-gone-before-deregistered"
    assert "closed-before-deregistered" not in w.also
