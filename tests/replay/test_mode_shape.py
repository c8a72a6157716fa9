"""A refused NodePort look where nothing states kube-proxy's mode, or which IPVS it runs
(replay.modeshape): an IPVS kube-proxy before kubernetes#97081 refuses where it has no local
endpoint, where iptables, nftables and IPVS with #97081 time out (pkg/proxy/iptables/proxier.go
DROP; pkg/proxy/ipvs/proxier.go syncEndpoint). The node's own looks decide where they were taken
with no local endpoint for longer than kube-proxy's lag bound and a usable one elsewhere; else
every reading is named. Literal observations as the recorder stores them (tests/replay/builders:
the prober's NodePort and health-check looks, EndpointSlices, the LB poller); no fakes. Times in
seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from gapwatch.replay.modeshape import (
    NO_LOCAL_DROPPED,
    NO_LOCAL_REFUSED,
    no_local_answers,
    refusal_readings,
)
from tests.replay.builders import eps, facts_of, health, node, nodeport, service, target
from tests.replay.test_detect import refused_look
from tests.replay.test_gate_per_node import configz

PGBD = "pod-gone-before-deregistered"
CBD = "closed-before-deregistered"


def _n1(obs: list[Observation]) -> tuple[FoldState, list[Window]]:
    state = fold(FoldState(), facts_of(obs))
    return state, [w for w in detect(state) if w.node == "n1"]


def _closed_on_n1(n1_after: str) -> list[Observation]:
    """Two nodes, p2 ready on n2 throughout. p1 on n1 leaves the slice at 20 s (no longer
    serving); kube-proxy closes n1 at its next sync and the NodePort answers `n1_after` from
    20.5 s, the health check 503, while the LB keeps n1 healthy until it drains it at 59-60 s;
    p3 is listed ready on n1 at 95 s and connects from 100.2 s. So from 80 s (20 s + the 60 s
    lag bound) to 95 s kube-proxy surely had no local endpoint while n2 had one: the answer
    then is the mode's."""
    return [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        nodeport(1, None, "n1", "connected"),
        nodeport(1, None, "n2", "connected"),
        health(1, None, "n1", 1),
        health(1, None, "n2", 1),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        eps(20, [("p1", "n1", "stopped"), ("p2", "n2", "ready")]),
        nodeport(20.7, 20.5, "n1", n1_after),
        health(20.7, 20.5, "n1", 0),
        target(60, 59, "n1", "draining"),
        eps(95, [("p3", "n1", "ready"), ("p2", "n2", "ready")]),
        nodeport(100.2, 100.0, "n1", "connected"),
        health(100.2, 100.0, "n1", 1),
    ]


def test_a_node_refusing_without_a_local_endpoint_is_ipvs_before_97081() -> None:
    """n1 kept refusing from 80 s to 95 s, with nothing local to forward to and p2 ready on
    n2 (no REJECT): IPVS before #97081, no /configz needed. Its refusal at 20.5 s is then no
    proof of a dead pod's rules: kube-proxy closed n1 while the LB routed to it. Main read the
    refusal as iptables' and named `pod-gone-before-deregistered` alone."""
    state, found = _n1(_closed_on_n1("refused"))
    svc = found[0].service
    assert no_local_answers(state, svc, "n1", DEFAULTS) == {NO_LOCAL_REFUSED}
    assert refusal_readings(state, svc, "n1", DEFAULTS) == (False,)
    assert [w.cls for w in found] == [CBD]


def test_a_node_timing_out_without_a_local_endpoint_reads_a_refusal_as_rules() -> None:
    """The same node timing out there (iptables' DROP, or IPVS with #97081) while its health
    check answered: a refusal at it is rules that forward to a local pod, the one reading."""
    obs = _closed_on_n1("timeout")
    obs += [target(110, 109, "n1", "healthy")]  # the LB took n1 back with p3
    obs += [nodeport(130.2, 130.0, "n1", "refused")]  # p3 died while listed: its rules
    obs += [eps(140, [("p2", "n2", "ready")]), target(150, 149, "n1", "draining")]
    state, found = _n1(obs)
    svc = found[0].service
    assert no_local_answers(state, svc, "n1", DEFAULTS) == {NO_LOCAL_DROPPED}
    assert refusal_readings(state, svc, "n1", DEFAULTS) == (True,)
    late = [w for w in found if w.start_us >= found[0].start_us + 100_000_000]
    assert [(w.cls, w.also) for w in late] == [(PGBD, ())]


def test_a_refusal_where_nothing_states_the_mode_names_both_readings() -> None:
    """test_detect's refused look: one node, no /configz, no look taken with nothing local.
    iptables (kube-proxy's default on Linux) reads the dead pod's rules first; IPVS before
    #97081 would have refused with no local endpoint as well, so that reading is named too.
    Main named the first alone: a confident class the log cannot decide."""
    state, found = _n1(refused_look())
    assert refusal_readings(state, found[0].service, "n1", DEFAULTS) == (True, False)
    assert [w.cls for w in found] == [PGBD]
    assert CBD in found[0].also


def test_ipvs_refusing_with_its_local_endpoint_programmed_is_the_dead_pods_rules() -> None:
    """/configz says IPVS, nothing says which. p1 was listed ready from 1 s and the NodePort
    refused at 80 s, before its endpoint left at 85 s: kube-proxy had its real server for 79 s,
    longer than the 60 s lag bound, so the virtual server was not empty under either IPVS: the
    refusal is p1 gone under its rules. Main read every refusal on an IPVS node as maybe no
    local endpoint and named `registered-before-forwarding`."""
    obs = [
        service(0),
        node(0, "n1"),
        configz(0.5, "n1", {}, "ipvs"),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        nodeport(80.2, 80.0, "n1", "refused"),
        eps(85, [("p1", "n1", "stopped")]),
        target(90, 89, "n1", "draining"),
    ]
    _, found = _n1(obs)
    assert [w.cls for w in found] == [PGBD]
