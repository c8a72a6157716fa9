"""A target first seen `draining` was registered, and possibly routed to, since the poll
before (replay.routed.registered_unseen): ELBv2 drains only a registered target. Literal
observations of held-out seed 18,000,545 node-002's shape: an endpoint-driven LB polled every
10 s registers the node after its pod is listed ready and starts draining it when the pod
terminates, both between two polls; kube-proxy programmed the pod 2 s after the listing (the
NodePort, looked at every second, timed out until then)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from tests.replay import builders as b

TRAFFIC_PORT = 32999  # the group checks the traffic port: endpoint-driven
CHECK_PORT = 31805  # the healthCheckNodePort: node-driven


def _listed(check_port: int) -> list[Observation]:
    """n2 serves throughout (its target polled at 5, 15 and 25 s); n1's pod p1 is listed ready
    at 10.2 s."""
    return [
        b.service(0),
        b.node(0, "n1"),
        b.node(0, "n2"),
        b.pod(0.5, "p2", "n2", "ready"),
        b.eps(1, [("p2", "n2", "ready")]),
        *b.polled_healthy("n2", [5.0, 15.0, 25.0], check_port),
        b.pod(9.2, "p1", "n1", "ready"),
        b.eps(10.2, [("p2", "n2", "ready"), ("p1", "n1", "ready")]),
    ]


def _log(check_port: int, *, first_poll: bool = True) -> list[Observation]:
    """`_listed`; p1 programmed by 12.5 s, terminating at 13.7 s; n1's target, absent at the
    poll at 5 s, is draining at 15 s."""
    return [
        *_listed(check_port),
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
    # an endpoint-driven CCM registers the node for its ready endpoint: not before the listing,
    # less the watch skew (its watch may deliver the change before the recorder's)
    assert window.start_earliest_us == _us(10.2 - DEFAULTS.watch_skew_s)


def test_not_where_health_checks_could_not_have_passed_between_the_polls() -> None:
    # a health-checked target needs its healthy threshold of checks (3 x 10 s by default, the
    # first at once): 10 s between the polls leaves no time to turn healthy
    assert not [w for w in b.windows_of(_log(CHECK_PORT)) if w.node == "n1"]


def test_not_from_a_first_poll_that_bounds_nothing() -> None:
    assert not [w for w in b.windows_of(_log(TRAFFIC_PORT, first_poll=False)) if w.node == "n1"]


def _us(seconds: float) -> int:
    from gapwatch.recorder.timefmt import to_micros

    return to_micros(b.at(seconds))


def _never_programmed(programmed_at: float) -> list[Observation]:
    """Held-out 19,000,713 node-003's shape: `_listed` on an endpoint-driven LB; p1 terminates
    at 11 s; kube-proxy programs it at `programmed_at` (the NodePort looked at every 0.1 s);
    n1's target, absent at the poll at 5 s, is draining at 15 s."""
    return [
        *_listed(TRAFFIC_PORT),
        *b.looks("n1", 1, 30, 0.1, lambda t: "timeout" if t < programmed_at else "connected"),
        b.pod(11.0, "p1", "n1", "terminating"),
        b.eps(11.8, [("p2", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.target(15.0, 5.0, "n1", "draining", "ADDED", check_port=TRAFFIC_PORT),
    ]


def test_an_unseen_registration_against_rules_never_programmed_names_it() -> None:
    # read at the rise's latest instant (the pod terminating by then) the window is `closed`;
    # kube-proxy never forwarded from the registration's earliest instant on, so what the window
    # met may have been the LB's rise against rules never programmed: named (rule AB)
    (window,) = [w for w in b.windows_of(_never_programmed(17.0)) if w.node == "n1"]
    assert "registered-before-forwarding" in (window.cls, *window.also)
    # the rule's reading: kube-proxy possibly forwarding anywhere from the registration's
    # earliest instant to the window's end leaves the window's own reading alone
    from gapwatch.replay.detect import _registered_unprogrammed
    from gapwatch.replay.signals import Iv, Tri

    registered = [Iv(9_700_000, 15_000_000)]
    never = Tri([Iv(17_000_000, 30_000_000)], [Iv(17_000_000, 30_000_000)])
    once = Tri([Iv(10_500_000, 12_500_000)], [])
    assert _registered_unprogrammed(registered, never, 11_800_000, 15_000_000)
    assert not _registered_unprogrammed(registered, once, 11_800_000, 15_000_000)
    assert not _registered_unprogrammed(registered, never, 15_000_000, 16_000_000)  # not inside
