"""A refused NodePort look where the Service had no usable endpoint anywhere (replay.rejected):
kube-proxy REJECTs such a Service on every node (pkg/proxy/iptables/proxier.go, "... has no
endpoints"; CategorizeEndpoints' `hasAnyEndpoints`), so the refusal is no proof of rules that
forward to a local pod that is gone, and the window names both readings. Literal
observations; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import eps, facts_of, node, nodeport, service, target
from tests.replay.test_gate_per_node import configz

PGBD = "pod-gone-before-deregistered"


def _emptied(elsewhere: bool) -> list[Observation]:
    """p1 on n1 turns serving-terminating at 20 s and leaves the slice at 30 s (the Service
    scaled to zero, or with `elsewhere` p2 ready on n2 throughout); n1's NodePort refused at
    50.0-50.2 s while the LB still had n1 healthy, drained from 59-60 s."""
    others = [("p2", "n2", "ready")] if elsewhere else []
    return [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready"), *others]),
        eps(20, [("p1", "n1", "terminating"), *others]),
        eps(30, others),
        nodeport(50.2, 50.0, "n1", "refused"),
        target(60, 59, "n1", "draining"),
    ]


def _n1(obs: list[Observation]) -> list[tuple[str, tuple[str, ...]]]:
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also) for w in found if w.node == "n1"]


def test_a_refusal_with_no_endpoint_anywhere_may_be_the_services_reject() -> None:
    [(cls, also)] = _n1(_emptied(elsewhere=False))
    assert cls != PGBD, "no rules to a local pod need be left: the Service had no endpoint"
    assert PGBD in also, "nor is it ruled out: the dead pod's rules refuse as well"


def test_a_refusal_while_another_node_had_a_ready_endpoint_is_the_dead_pods_rules() -> None:
    """n1's /configz states iptables: nothing local refuses there (an IPVS kube-proxy before
    kubernetes#97081 might have, 20 s after p1 left: replay.modeshape names that reading)."""
    obs = _emptied(elsewhere=True)
    obs.insert(3, configz(0.5, "n1", {}, "iptables"))
    assert _n1(obs) == [(PGBD, ())]
