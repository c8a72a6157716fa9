"""The refusal readings take kube-proxy's lag bound as the windows do (replay.proxy
`proxy_lag_hi`: measured from the probes, else 2 x the sync period the nodes' /configz stated,
else `proxy_lag_max_s`), not the 60 s assumption alone: replay.rejected (a refusal that may be
the Service's REJECT), replay.counted_refusal and replay.modeshape (a refusal under IPVS).

The cluster is tests/replay/test_rejected.py's, both nodes stating iptables in /configz (the
real kind answer's, its IPTables.SyncPeriod set: tests/replay/test_sync_period_bound.py): p1 on
n1 turns serving-terminating at 20 s and leaves the slice at 30 s, so the Service has no usable
endpoint until p2 is listed ready on n2 at 35 s; kube-proxy REJECTs it on every node from its
sync after 30 s to its sync after 35 s. n1's NodePort is refused at `refused` s while the LB
still has n1 healthy. Literal observations; times in seconds."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import eps, facts_of, node, nodeport, service, target
from tests.replay.test_sync_period_bound import configz

PGBD = "pod-gone-before-deregistered"


def _regained(period: str, refused: float) -> list[tuple[str, tuple[str, ...]]]:
    """n1's windows (class, the others named) with both nodes stating `period`."""
    obs: list[Observation] = [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        configz(0.5, "n1", SyncPeriod=period),
        configz(0.5, "n2", SyncPeriod=period),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        eps(20, [("p1", "n1", "terminating")]),
        eps(30, []),
        eps(35, [("p2", "n2", "ready")]),
        nodeport(refused + 0.2, refused, "n1", "refused"),
        target(refused + 10, refused + 9, "n1", "draining"),
    ]
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also) for w in found if w.node == "n1"]


def test_a_short_stated_period_rules_the_reject_out() -> None:
    # 5 s stated: kube-proxy lifted the REJECT by 45 s (2 x 5 s after the 35 s listing), so a
    # refusal at 50 s is the dead pod's rules. Main read 60 s back from the look: maybe a REJECT
    assert _regained("5s", 50.0) == [(PGBD, ())]


def test_a_long_stated_period_keeps_the_reject_possible() -> None:
    # 1m0s stated: kube-proxy may hold the version without endpoints until 155 s (120 s after
    # the 35 s listing), so a refusal at 150 s may be the REJECT. Main read 60 s back: none
    [(cls, also)] = _regained("1m0s", 150.0)
    assert cls != PGBD or also, "the REJECT is possible: the refusal is no proof of rules"


def test_the_default_period_reads_as_the_assumption() -> None:
    # the control: 30s stated is the 60 s bound; a refusal 20 s after the listing may be the
    # REJECT, one 70 s after may not (both ways)
    [(cls, also)] = _regained("30s", 55.0)
    assert cls != PGBD or also
    assert _regained("30s", 100.0) == [(PGBD, ())]


def _ipvs(t: float, node_name: str, period: str) -> Observation:
    """The /configz answer stating `period` and Mode ipvs (which IPVS, before or after
    kubernetes#97081, nothing states: replay.modeshape)."""
    obs = configz(t, node_name, SyncPeriod=period)
    return replace(obs, payload={**obs.payload, "mode": "ipvs"})


def _returned(period: str, refused: float) -> list[tuple[str, tuple[str, ...], bool]]:
    """n1's windows (class, the others named, certain) where both nodes state IPVS and
    `period`: p1 on n1 listed not ready 20-30 s, ready again from 30 s (p2 on n2 ready
    throughout: no REJECT); n1's NodePort refused at `refused` s, the LB draining 9-10 s
    later. A refusal is the dead pod's rules under every IPVS where kube-proxy surely had p1's
    endpoint programmed when it refused (modeshape.refused_as_rules)."""
    obs = [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        _ipvs(0.5, "n1", period),
        _ipvs(0.5, "n2", period),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        eps(20, [("p1", "n1", "stopped"), ("p2", "n2", "ready")]),
        eps(30, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        nodeport(refused + 0.2, refused, "n1", "refused"),
        target(refused + 10, refused + 9, "n1", "draining"),
    ]
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also, w.certain) for w in found if w.node == "n1"]


def test_a_short_stated_period_makes_an_ipvs_refusal_the_rules() -> None:
    # 5 s stated: p1's return (30 s) was programmed by 40 s, so the refusal at 80 s had p1's
    # real server: the dead pod's rules. Main read 60 s back, into the not-ready stretch
    assert (PGBD, (), True) in _returned("5s", 80.0)


def test_a_long_stated_period_leaves_an_ipvs_refusal_unproven() -> None:
    # 1m0s stated: kube-proxy may hold the 20 s version (p1 not ready) until 140 s, so an
    # IPVS before kubernetes#97081 may refuse at 100 s for want of a real server. Main read
    # 60 s back (p1 ready since 30 s) and named nothing else: a certain pod-gone
    certain = [(cls, also) for cls, also, sure in _returned("1m0s", 100.0) if sure]
    assert certain and all(cls != PGBD or also for cls, also in certain)
