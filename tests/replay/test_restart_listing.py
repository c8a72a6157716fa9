"""A kube-proxy restart after the recording began, its health answer taken before the
EndpointSlices' first listing (replay.proxy.restart_carried; docs/semantics.md, "Uncertain
false windows, session 26").

While kube-proxy restarts, its health port refuses connections and the rules it installed keep
forwarding: a refused look carries the last answer's value, and F is unknown only from the
first EndpointSlice change after that answer (a change the restarting kube-proxy may or may not
have programmed). The endpoints lane's first sample is the slices' first listing, the state
they held when the recording began, not a change: where the prober's first answer came before
it and agrees with it (a 200 over a ready endpoint), it was read as a change, and every restart
of kube-proxy later in the recording left a possible window over its refusals (random 16
node-001, `benchmarks/uncertain_false.py --without-nodeport`: the first answer 0.18 s before
the first listing, refusals 5.6 s long 87 s later, the LB routing throughout: a possible
`registered-before-forwarding` window, no true one).

Literal observations: the Service, Node, Pod and EndpointSlice objects as the watch lists them,
health-check answers and refusals (the Service's healthCheckNodePort), DescribeTargetHealth
answers; times in seconds."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.fold import Sample
from gapwatch.replay.model import Window
from gapwatch.replay.proxy import restart_carried
from gapwatch.replay.signals import Iv
from tests.replay.builders import _sample, at, eps, health, node, pod, service, target, windows_of


def _refused(t: float, prev: float) -> Observation:
    payload: dict[str, Any] = {"status": None, "body": None, "error": "refused", "port": 31805}
    return _sample(t, prev, "ProxyHealth", "kube-proxy-probe", "n1", payload)


def _restart() -> list[Window]:
    """n1 (kube-proxy 1.29) with p1; the prober's first answer (200 counting 1) at 0.5 s,
    before the slices' first listing of p1 ready at 1 s; kube-proxy restarts at 30 s: its
    health port refuses until 35.5 s, when it answers 200 counting 1 again. The LB (checking
    the traffic port: endpoint-driven), polled every 2 s, routes to n1 throughout."""
    obs = [
        service(0),
        node(0, "n1"),
        health(0.5, None, "n1", 1),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED", check_port=32999),
        *[target(t, t - 2, "n1", "healthy", check_port=32999) for t in range(3, 61, 2)],
        _refused(30, 29.9),
        health(35.5, 35.4, "n1", 1),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_the_first_listing_is_no_change_the_restart_may_have_missed() -> None:
    # the rules of 0.5 s forwarded to p1, which the slices listed ready from the start and
    # throughout: nothing changed for the restarting kube-proxy to miss, no window
    assert _restart() == []


def test_a_lane_that_begins_after_the_first_listing_begins_with_a_change() -> None:
    # a node whose endpoints were first listed 40 s after the Service's (or a read of a range
    # whose lane begins with the version holding at its start, replay.openness_scope): that
    # sample is a change the restarting kube-proxy may have missed, F unknown over the refusals
    health_ = [Sample(_us(0.5), None, "200", 1, 1), Sample(_us(50), _us(49.9), "refused", 2)]
    health_.append(Sample(_us(55.5), _us(55.4), "200", 3, 1))
    eps_ = [Sample(_us(40), None, "ready", 4, 1)]
    assert restart_carried(health_, eps_, _us(2))[1] == [Iv(_us(49.9), _us(55.5))]
    # the same sample within the first listing: no change, F carried from the answer
    assert restart_carried(health_, eps_, _us(41))[1] == []


def _us(t: float) -> int:
    return to_micros(at(t))
