"""Tencent TKE's enable-grace-shutdown and enable-grace-deletion in the simulator, and replay on
them.

Expectations from Tencent's documented behaviour (DESIGN.md section 6): grace shutdown sets a
terminating pod's CLB weight to 0 (the backend stays bound, no new connections); grace deletion
holds the pod's deletion until that is done, so with kube-proxy closing at once (PTE off) the
closing race (closed-before-deregistered) cannot happen. The counter-case, the same cluster
without grace deletion, shows the race does happen there, so the tests can fail.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from gapwatch.recorder.sim import Simulation, load_scenario
from tests.replay.accuracy import Report, compare

CLOSING = ("closed-before-deregistered", "pod-gone-before-deregistered")


def _classes(preset: str, overrides: dict[str, Any], seeds: range) -> Counter[str]:
    out: Counter[str] = Counter()
    for seed in seeds:
        sim = Simulation(load_scenario(preset, overrides), seed)
        for _ in sim:
            pass
        assert sim.truth is not None
        out.update(w.cls for w in sim.truth.windows)
    return out


def test_grace_deletion_closes_the_closing_race_that_happens_without_it() -> None:
    seeds = range(1, 9)
    without = _classes("tencent-clb-grace", {"ccm.grace_deletion": False}, seeds)
    held = _classes("tencent-clb-grace", {}, seeds)
    assert without["closed-before-deregistered"] > 0
    assert sum(held[c] for c in CLOSING) == 0
    assert held["registered-before-forwarding"] > 0  # the other race is not Tencent's to close


def test_a_weight_zero_backend_is_observed_as_draining_with_weight_0() -> None:
    sim = Simulation(load_scenario("tencent-clb-grace", {}), 1)
    looks = [o for o in sim if o.kind == "TargetHealth"]
    zero = [o for o in looks if o.payload.get("Weight") == 0]
    assert zero, "the poller saw a weight-0 backend"
    for o in zero:
        assert o.payload["TargetHealth"]["State"] == "draining"
        assert o.payload["TargetHealth"]["Reason"] == "Target.WeightZero"
    # weight 0 is a passage: the backend is later bound again (a new pod) or unbound
    first = zero[0]
    later = [o for o in looks if o.node == first.node and o.observed_at > first.observed_at]
    assert later and later[0].payload.get("Weight") != 0


def test_grace_deletion_waits_for_the_weight_before_the_pod_terminates() -> None:
    sim = Simulation(load_scenario("tencent-clb-grace", {"observe.lb_poll_period_s": 0.1}), 2)
    obs = list(sim)
    zero = [o for o in obs if o.kind == "TargetHealth" and o.payload.get("Weight") == 0]
    assert zero
    for look in zero:
        deleting = [
            o
            for o in obs
            if o.kind == "Pod"
            and o.node == look.node
            and o.payload["metadata"].get("deletionTimestamp")
            and o.observed_at > look.observed_at - _poll(0.1)
        ]
        assert deleting, "a pod on the node was deleted after its weight went to 0"


def _poll(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


def test_replay_holds_the_truth_under_grace_shutdown() -> None:
    total = Report()
    for seed in range(1, 11):
        for overrides in ({}, {"ccm.grace_deletion": False}):
            total.add(compare("tencent-clb-grace", seed, overrides))
    assert total.truth >= 20
    assert (total.missed, total.false) == ([], [])


def test_classes_right_when_deletions_are_held() -> None:
    # Grace deletion holds the old pod's deletion: it leaves between two LB polls, the LB
    # re-registers the node for the new pod after kube-proxy surely stopped serving. That
    # window opens with the LB (R's rise is the later change), so it is the new pod's
    # registered-before-forwarding, not the old pod's pod-gone (seeds 4 and 25 once were).
    overrides = {
        "ccm.grace_deletion": True,
        "events": [
            {"at_s": 60, "action": "rollout", "workload": "ingress"},
            {"at_s": 300, "action": "drain", "node": "NODE2"},
        ],
    }
    total = Report()
    for seed in (4, 25):
        total.add(compare("tencent-clb", seed, overrides))
    assert total.matched > 0
    assert total.wrong_class == []
