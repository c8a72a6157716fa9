"""A refused NodePort look while kube-proxy's own health check still counted a ready local
endpoint (replay.counted_refusal): the sync that wrote the rules in force saw a ready endpoint,
so it wrote no REJECT for the Service however empty the API server's listing was by then, and
the refusal came from rules to a local pod that is gone. The shape of random 29,000,189
node-002 (the sixteenth spent set, "Classes on the sixteenth spent set"): kube-proxy 1.25 (the
gate off, as its default), the Service scaled to zero, a slow kube-proxy on n1 still counting
its old pod when that pod died under its rules. Literal observations; times in seconds."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    health_looks,
    nodeport,
    pod,
    ready_pair,
    target,
)
from tests.replay.test_gate_per_node import configz

PGBD = "pod-gone-before-deregistered"
CBD = "closed-before-deregistered"
VERSION = "v1.25.16"


def at_us(seconds: float) -> int:
    return int(at(seconds).timestamp() * 1_000_000)


def _replacement() -> list[Observation]:
    """p3 on n1, listed ready at 21 s (n1's NodePort connects again from the look at 23 s) and
    serving-terminating from 30.2 s (the NodePort refused again from 31 s: the gate is off)."""
    return [
        pod(20.5, "p3", "n1", "ready"),
        eps(21, [("p1", "n1", "terminating"), ("p3", "n1", "ready"), ("p2", "n2", "terminating")]),
        nodeport(23, 22, "n1", "connected"),
        eps(24, [("p3", "n1", "ready"), ("p2", "n2", "terminating")]),
        eps(30.2, [("p3", "n1", "terminating"), ("p2", "n2", "terminating")]),
        nodeport(31, 30, "n1", "refused"),
    ]


def _scaled_to_zero(count: Callable[[float], int], replacement: bool = False) -> list[Observation]:
    """p1 on n1 and p2 on n2 ready from 1 s (both nodes registered healthy then), both
    deleted at 10 s (listed serving-terminating at once); p1's container stops at 19 s
    (finishedAt, seen at 23 s) and the slice drops it at 24 s. n1's NodePort refuses from the
    look at 20 s; its health check answers `count(t)` every second; the LB keeps n1 healthy
    until it drains it at 39-40 s. With `replacement`, p3 on n1 as well (`_replacement`)."""
    looks = [float(t) for t in range(1, 41)]
    obs = [
        *ready_pair(1, VERSION),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        pod(10, "p2", "n2", "terminating", deleted_at=10),
        eps(10.2, [("p1", "n1", "terminating"), ("p2", "n2", "terminating")]),
        nodeport(1, None, "n1", "connected"),
        nodeport(20, 19, "n1", "refused"),
        *health_looks("n1", looks, count),
        pod(23, "p1", "n1", "gone", deleted_at=10, finished=19),
        target(40, 39, "n1", "draining"),
    ]
    if replacement:
        return sorted([*obs, *_replacement()], key=lambda o: o.observed_at)
    return [*obs, eps(24, [("p2", "n2", "terminating")])]


def _n1(obs: list[Observation]) -> list[tuple[str, tuple[str, ...], bool]]:
    """n1's windows that began by the refusal."""
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also, w.certain) for w in found if w.node == "n1" and w.start_us < at_us(21)]


def test_a_refusal_while_the_health_check_counted_the_pod_is_its_rules() -> None:
    """kube-proxy counted p1 until 23 s: at the refusal it held a version that listed p1 ready,
    so it REJECTed nothing; the refusal is p1's rules after p1 died (main: read
    closed-before-deregistered with the dead pod's rules only named). n1's /configz states
    iptables: an IPVS kube-proxy before kubernetes#97081 refuses without a local endpoint too,
    and where no answer states the mode replay.modeshape names that reading beside it."""
    obs = [*_scaled_to_zero(lambda t: 1 if t <= 23 else 0), configz(0.5, "n1", {}, "iptables")]
    [(cls, also, _certain)] = _n1(sorted(obs, key=lambda o: o.observed_at))
    assert (cls, also) == (PGBD, ())


def test_a_refusal_the_health_check_shows_after_the_close_may_be_the_reject() -> None:
    """kube-proxy counted none from the refused look on (it synced the termination by then,
    and with the gate off forwarded to nothing): the Service had no usable endpoint for it,
    the refusal may be its REJECT, and both readings stay named."""
    [(cls, also, _certain)] = _n1(_scaled_to_zero(lambda t: 1 if t < 20 else 0))
    assert {cls, *also} == {CBD, PGBD}


def test_a_count_that_a_later_listed_pod_can_explain_claims_nothing() -> None:
    """One run of answers counting one, from before the refusal to after p3 was listed ready:
    its last look may count p3, and kube-proxy may have held the version between (p1
    terminating, p3 not yet listed: no ready endpoint anywhere) at the refused look."""
    [(cls, also, _certain)] = _n1(_scaled_to_zero(lambda t: int(t <= 30), replacement=True))
    assert {cls, *also} >= {CBD, PGBD}
