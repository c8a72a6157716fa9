"""A target first seen `draining` was registered, and possibly routed to, since the poll
before (replay.routed.registered_unseen): ELBv2 drains only a registered target. Literal
observations of held-out seed 18,000,545 node-002's shape: an endpoint-driven LB polled every
10 s registers the node after its pod is listed ready and starts draining it when the pod
terminates, both between two polls; kube-proxy programmed the pod 2 s after the listing (the
NodePort, looked at every second, timed out until then)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay import builders as b

TRAFFIC_PORT = 32999  # the group checks the traffic port: endpoint-driven
CHECK_PORT = 31805  # the healthCheckNodePort: node-driven


def _log(check_port: int, *, first_poll: bool = True) -> list[Observation]:
    """n2 serves throughout; n1's pod is listed ready at 10.2 s, programmed by 12.5 s,
    terminating at 13.7 s; n1's target, absent at the poll at 5 s, is draining at 15 s."""
    return [
        b.service(0),
        b.node(0, "n1"),
        b.node(0, "n2"),
        b.pod(0.5, "p2", "n2", "ready"),
        b.eps(1, [("p2", "n2", "ready")]),
        *b.polled_healthy("n2", [5.0, 15.0, 25.0], check_port),
        b.pod(9.2, "p1", "n1", "ready"),
        b.eps(10.2, [("p2", "n2", "ready"), ("p1", "n1", "ready")]),
        *b.looks("n1", 1, 30, 1, lambda t: "timeout" if t < 12.5 else "connected"),
        b.pod(13.7, "p1", "n1", "terminating"),
        b.eps(13.7, [("p2", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.target(
            15.0, 5.0 if first_poll else None, "n1", "draining", "ADDED", check_port=check_port
        ),
    ]


def test_a_target_first_seen_draining_may_have_been_routed_since_the_poll_before() -> None:
    found = [w for w in b.windows_of(_log(TRAFFIC_PORT)) if w.node == "n1"]
    assert found and not any(w.certain for w in found)
    # the registration before kube-proxy programmed the pod (the listing 10.2 s, the NodePort's
    # first connect 12.5 s) lies between the polls at 5 s and 15 s; afterwards the pod's
    # termination and the drain are unordered too (a second possible window)
    (window,) = [w for w in found if w.start_earliest_us <= _us(10.2)]
    assert window.cls == "registered-before-forwarding"
    assert window.end_latest_us >= _us(12.0)
    # an endpoint-driven CCM registers the node for its ready endpoint: not before the listing
    assert window.start_earliest_us == _us(10.2)


def test_not_where_health_checks_could_not_have_passed_between_the_polls() -> None:
    # a health-checked target needs its healthy threshold of checks (3 x 10 s by default, the
    # first at once): 10 s between the polls leaves no time to turn healthy
    assert not [w for w in b.windows_of(_log(CHECK_PORT)) if w.node == "n1"]


def test_not_from_a_first_poll_that_bounds_nothing() -> None:
    assert not [w for w in b.windows_of(_log(TRAFFIC_PORT, first_poll=False)) if w.node == "n1"]


def _us(seconds: float) -> int:
    from gapwatch.recorder.timefmt import to_micros

    return to_micros(b.at(seconds))
