"""A refused NodePort look while every local pod kube-proxy could forward to was alive
(replay.liverefusal): under iptables, nftables or IPVS with kubernetes#97081 the node would
have connected to the live pod (or dropped, with none programmed), so where nothing states the
node's mode the refusal reads first as an IPVS kube-proxy before #97081 with no local
endpoint, the dead pod's rules named beside it. The shape of the spent set's 35,000,889
node-001 (`--mixed-proxy`: IPVS before #97081, kube-proxy 1.26 with the gate set off), from
literal observations as the recorder stores them (tests/replay/builders: Pods with the
kubelet's finishedAt, EndpointSlices, the prober's NodePort and health-check looks every 2 s,
the LB poller); no fakes. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.liverefusal import dead_in_rules_possible
from gapwatch.replay.model import Window
from gapwatch.replay.modeshape import refusal_readings
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    health,
    node,
    node_unknown,
    nodeport,
    pod,
    service,
    target,
)

PGBD = "pod-gone-before-deregistered"
CBD = "closed-before-deregistered"


def _terminated_under_the_lb(finished: float) -> list[Observation]:
    """kube-proxy 1.25 (ProxyTerminatingEndpoints off: it drops a terminating endpoint), p2
    ready on n2 throughout (no REJECT). p1 on n1 is deleted at 100 s and listed
    serving-terminating at 100.4 s; kube-proxy removes it and n1's NodePort refuses at 102 s
    (IPVS before #97081: a virtual server with no real server), its health check 503; p1's
    container stops at `finished` (finishedAt, whole seconds) and the Pod update that says so
    comes at 106.5 s, the slice lists nothing on n1 at 106.9 s; p3 is ready on n1 at 108 s,
    listed at 108.3 s, and the NodePort connects from 110 s. The LB keeps n1 healthy
    throughout: the refusal is a window, certain."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        node(0, "n2", version="v1.25.16"),
        pod(0.5, "p1", "n1", "ready"),
        pod(0.5, "p2", "n2", "ready"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
        nodeport(2, None, "n2", "connected"),
        health(2, None, "n2", 1),
        nodeport(2, None, "n1", "connected"),
        health(2, None, "n1", 1),
        pod(100.1, "p1", "n1", "terminating", deleted_at=100),
        eps(100.4, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
        nodeport(102, 100, "n1", "refused"),
        health(102, 100, "n1", 0),
        pod(103, "p3", "n1", "pending"),
        pod(106.5, "p1", "n1", "gone", deleted_at=100, finished=finished),
        eps(106.9, [("p2", "n2", "ready")]),
        pod(108, "p3", "n1", "ready"),
        eps(108.3, [("p3", "n1", "ready"), ("p2", "n2", "ready")]),
        nodeport(110, 108, "n1", "connected"),
        health(110, 108, "n1", 1),
        nodeport(200, 198, "n1", "connected"),
        nodeport(200, 198, "n2", "connected"),
        target(200, 190, "n1", "healthy"),
        target(200, 190, "n2", "healthy"),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _n1(obs: list[Observation]) -> tuple[FoldState, list[Window]]:
    state = fold(FoldState(), facts_of(obs))
    return state, [w for w in detect(state) if w.node == "n1"]


def test_a_refusal_while_the_pod_lived_reads_kube_proxys_close_first() -> None:
    """p1 stopped at 104 s (finishedAt; its death in [103 s, 106 s) with the node clock's
    second): at the refused look (102 s) it lived, and it was the only pod n1 could forward
    to, so no dead pod's rules refused. Nothing states n1's mode: the close under IPVS before
    #97081 is read first, the dead pod's rules named. Main read
    `pod-gone-before-deregistered` first, a certain wrong class in the recording."""
    state, found = _n1(_terminated_under_the_lb(finished=104))
    svc = found[0].service
    assert refusal_readings(state, svc, "n1", DEFAULTS) == (True, False)  # the mode undecided
    assert not dead_in_rules_possible(state, svc, "n1", to_micros(at(102)), DEFAULTS)
    assert [(w.cls, w.certain) for w in found] == [(CBD, True)]
    assert PGBD in found[0].also


def test_a_refusal_the_death_may_precede_keeps_the_rules_first() -> None:
    """Control: finishedAt 102 s puts p1's death in [101 s, 104 s), which may precede the
    refused look: its rules may have refused, the iptables reading first as before, kube-proxy's
    close named."""
    state, found = _n1(_terminated_under_the_lb(finished=102))
    svc = found[0].service
    assert dead_in_rules_possible(state, svc, "n1", to_micros(at(102)), DEFAULTS)
    assert [w.cls for w in found] == [PGBD]
    assert CBD in found[0].also


def test_a_pod_the_log_never_showed_may_be_dead() -> None:
    """Without the Pod stream nothing says p1 lived: the rules reading stays first."""
    obs = [o for o in _terminated_under_the_lb(finished=104) if o.kind != "Pod"]
    state, found = _n1(obs)
    assert dead_in_rules_possible(state, found[0].service, "n1", to_micros(at(102)), DEFAULTS)
    assert [w.cls for w in found] == [PGBD]


def test_a_pod_on_a_node_that_went_down_may_have_died_unreported() -> None:
    """34,000,535 node-002's shape: no Pod update reports p1's stop, and n1 stops answering
    after the refusal (timeouts from 104 s, the Node Unknown at 150 s, the node controller's
    grace after its kubelet's last post). Its kubelet may have died before it could report a
    stop that preceded the look, so p1 is not read alive there: the rules reading stays first.
    The first version of the rule (commit 0f70d360) read p1 alive for want of a report."""
    obs = [
        o
        for o in _terminated_under_the_lb(finished=104)
        if not (o.kind == "Pod" and o.name == "p1" and o.observed_at > at(100.5))
        and not (
            o.kind in ("NodePortProbe", "ProxyHealth")
            and o.node == "n1"
            and o.observed_at > at(103)
        )
        and not (o.kind == "Pod" and o.name == "p3")
        and not (o.kind == "EndpointSlice" and o.observed_at > at(103))
    ]
    obs += [
        nodeport(104, 102, "n1", "timeout"),
        health(104, 102, "n1", None),
        node_unknown(150, "n1", version="v1.25.16"),
    ]
    state, found = _n1(sorted(obs, key=lambda o: o.observed_at))
    svc = found[0].service
    assert dead_in_rules_possible(state, svc, "n1", to_micros(at(102)), DEFAULTS)
    assert found[0].cls == PGBD
