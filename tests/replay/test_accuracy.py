"""Replay against the simulator's ground truth: every true window found inside the reported
bounds, no certain window that is not true, the class right where one window is one true window.
Both CCM modes, with and without mitigations, probe periods from 0.1 s to 5 s."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.accuracy import HELD_OUT_FROM, observe_settings, random_case
from gapwatch.replay.assumptions import DetectSettings
from tests.replay.accuracy import Report, compare

P = "observe.kube_proxy_period_s"

CASES: list[tuple[str, dict[str, object]]] = [
    ("seed-3node", {}),
    ("mitigated", {}),
    ("seed-3node", {"observe.kube_proxy_period_s": 0.1}),
    ("seed-3node", {"observe.kube_proxy_period_s": 5, "observe.lb_poll_period_s": 1}),
    ("aws-nlb", {}),
    ("aws-nlb", {"observe.kube_proxy_period_s": 0.1, "observe.lb_poll_period_s": 2}),
]


@pytest.mark.parametrize(("name", "overrides"), CASES)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_replay_matches_truth(name: str, overrides: dict[str, object], seed: int) -> None:
    report = compare(name, seed, overrides)
    assert report.missed == []
    assert report.false == []


def test_classes_match_truth_where_one_window_is_one_true_window() -> None:
    # A pod that dies (crash, or killed while serving-terminating under PTE) just before
    # kube-proxy closes is seen as a timeout by the next probe: the pods' own lane names the
    # cause. Periods 2 and 5 s are where the probe used to misread it.
    total = Report()
    periods: list[tuple[str, dict[str, object]]] = [("aws-nlb", {P: p}) for p in (2, 5)]
    for name, overrides in [*CASES, *periods]:
        for seed in (1, 2, 3, 4, 5):
            total.add(compare(name, seed, overrides))
    assert total.confusion[("pod-gone-before-deregistered", "pod-gone-before-deregistered")] > 20
    assert total.matched > 50
    assert total.wrong_class == []


@pytest.mark.parametrize("period", [2, 5])
def test_nodeport_service_only_nodeport_probes(period: float) -> None:
    # No healthCheckNodePort: the proxy lane is the NodePort probe alone. A 5 s probe hides a
    # kube-proxy excursion; its bound must hold the true lag (seeds 14, 18, 40 once missed).
    total = Report()
    for seed in range(1, 41):
        total.add(compare("seed-3node", seed, {"service.type": "NodePort", P: period}))
    assert total.truth > 100
    assert (total.missed, total.false) == ([], [])


def test_seed_scenario_has_both_seed_classes() -> None:
    from gapwatch.recorder.sim import load_scenario, run
    from tests.replay.accuracy import replay_windows

    result = run(load_scenario("seed-3node"), seed=1)
    classes = {w.cls for w in replay_windows(list(result.observations))}
    assert {"registered-before-forwarding", "closed-before-deregistered"} <= classes


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 41))
@pytest.mark.parametrize("period", [0.1, 0.5, 1, 2, 5])
@pytest.mark.parametrize("name", ["seed-3node", "mitigated", "aws-nlb"])
def test_sweep(name: str, period: float, seed: int) -> None:
    report = compare(name, seed, {"observe.kube_proxy_period_s": period})
    assert (report.missed, report.false) == ([], [])


def test_pte_proven_by_probes_leaves_no_unproven_rollout_window() -> None:
    # mitigated: PTE on, preStop 20 s. The node's ready set empties while its old pod serves
    # terminating: the health check says 503 while the NodePort connects, which proves PTE, so
    # that excursion is no possible window (it was one per run); a pod that dies before its
    # replacement is programmed still is (aws-nlb, where those short windows are real).
    total = Report()
    for seed in range(1, 11):
        for name in ("mitigated", "aws-nlb"):
            total.add(compare(name, seed, {P: 0.5}))
    mitigated = Report()
    for seed in range(1, 11):
        mitigated.add(compare("mitigated", seed, {}))
    assert (total.missed, total.false) == ([], [])
    assert mitigated.truth >= 10
    assert mitigated.uncertain_false == 0


@pytest.mark.parametrize("name", ["seed-3node", "mitigated", "aws-nlb"])
def test_without_probes_inferred_windows_hold_the_truth(name: str) -> None:
    # No kube-proxy-probe at all: F is inferred per local pod from the watch (its endpoint
    # programmed within the assumed lag, the pod still up). When the assumed lag (0..2 s)
    # bounds the true one, every true window lies inside an inferred window, and none is
    # certain without a true window behind it.
    lag = {"kube_proxy.lag_s": {"p50": 1.0, "p90": 1.5, "max": 2.0}}
    total = Report()
    for seed in range(1, 21):
        total.add(
            compare(
                name,
                seed,
                lag,
                drop_sources=("kube-proxy-probe",),
                expect_provenance="inferred",
            )
        )
    assert total.truth >= 20
    assert (total.missed, total.false, total.provenance) == ([], [], [])
    assert total.wrong_class == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed-3node", "mitigated"])
def test_sweep_nodeport_service(name: str) -> None:
    total = Report()
    for period in (0.1, 0.5, 1, 2, 5):
        for seed in range(1, 41):
            total.add(compare(name, seed, {"service.type": "NodePort", P: period}))
    assert (total.missed, total.false, total.wrong_class) == ([], [], [])


@pytest.mark.slow
def test_sweep_classes() -> None:
    total = Report()
    for name in ("seed-3node", "mitigated", "aws-nlb"):
        for period in (0.1, 0.5, 1, 2, 5):
            for seed in range(1, 41):
                total.add(compare(name, seed, {P: period}))
    assert total.matched > 500
    assert total.wrong_class == []


def test_without_probes_a_wide_assumed_lag_keeps_classes() -> None:
    # The simulator's own kube-proxy lag (up to 6 s), assumed 0..6 s: a sure start then spans
    # the old pod's exit; kube-proxy may have closed first (ready lost before the pod stopped),
    # which is the cause at the earliest start: closed-before-deregistered, as the truth says.
    settings = DetectSettings(proxy_lag_max_s=6.0)
    total = Report()
    for seed in range(1, 21):
        for name in ("seed-3node", "aws-nlb"):
            drop = ("kube-proxy-probe",)
            total.add(compare(name, seed, {}, drop_sources=drop, settings=settings))
    assert total.confusion[("closed-before-deregistered", "closed-before-deregistered")] > 0
    assert (total.missed, total.false, total.wrong_class) == ([], [], [])


def test_randomized_scenarios_development_subset() -> None:
    # The CI subset of benchmarks/accuracy.py: randomized scenarios (heavy-tailed lags, every
    # event kind, both CCM modes, kube-proxy 1.24-1.31) from the development seeds, default
    # assumptions. No certain window without a true one; at most 5 % of true windows outside
    # every reported window's bounds, at most 5 % wrong classes where one certain window is one
    # true window (a regression guard at today's figures, not the targets: see
    # docs/semantics.md for the held-out figures).
    from gapwatch.recorder.sim import from_dict
    from gapwatch.recorder.sim.generate import random_scenario
    from tests.replay.accuracy import compare_scenario

    total = Report()
    for seed in range(1, 41):
        total.add(compare_scenario(from_dict(random_scenario(seed)), seed))
    assert total.truth > 50
    assert total.false == []
    assert len(total.missed) <= total.truth // 20
    assert total.matched > 20 and len(total.wrong_class) <= total.matched // 20
    # every window holding one true window, uncertain ones too (classed where they can have
    # opened): at least 90 % right (56 of 61 today); uncertain windows with no true window at
    # most a fifth of those reported (13 of 79 today; 18 of 77 before an unseen gap under PTE
    # was bounded by the probe period)
    right = sum(n for (t, got), n in total.confusion_any.items() if t == got)
    assert right * 10 >= sum(total.confusion_any.values()) * 9
    assert total.uncertain_false * 5 <= total.found


@pytest.mark.parametrize(
    "name", ["aws-nlb-lbc", "gke-l4", "alibaba-slb", "tencent-clb", "slow-kube-proxy"]
)
def test_calibrated_presets_hold_the_truth(name: str) -> None:
    # Presets from published figures: every true window inside a
    # reported window's bounds and no certain window without a true one.
    total = Report()
    for seed in (1, 2, 3):
        total.add(compare(name, seed, {}))
    assert total.truth >= 6
    assert (total.missed, total.false) == ([], [])


@pytest.mark.parametrize(("prober", "poller"), [(-3.0, 0.0), (3.0, 0.0), (-3.0, -5.0)])
def test_observer_clock_skew_within_the_assumed_bound_keeps_every_window(
    prober: float, poller: float
) -> None:
    # The prober's and the LB poller's clocks off the recorder's by seconds: with the
    # clock_skew_s assumption at least that large, every true window stays inside the widened
    # bounds and no window is certain without a true one.
    bound = max(abs(prober), abs(poller))
    skewed = {"observe.prober_clock_offset_s": prober, "observe.poller_clock_offset_s": poller}
    total = Report()
    for name in ("seed-3node", "aws-nlb"):
        for seed in (1, 2, 3):
            total.add(compare(name, seed, skewed, settings=DetectSettings(clock_skew_s=bound)))
    assert total.truth >= 15
    assert (total.missed, total.false) == ([], [])


def test_random_runs_take_observe_settings_and_nothing_else() -> None:
    """benchmarks/accuracy.py `--random ... --set observe.KEY=VALUE`: how the runs are observed
    changes (the densest sampling the generator draws, for all runs); a key of the generated
    world is refused with one line."""
    parser = argparse.ArgumentParser()
    got = observe_settings(
        ["observe.kube_proxy_period_s=0.1", "observe.lb_poll_period_s=1"], parser
    )
    assert got == {"kube_proxy_period_s": 0.1, "lb_poll_period_s": 1}
    observe = random_case(3, got).observe
    assert (observe.kube_proxy_period_s, observe.lb_poll_period_s) == (0.1, 1.0)
    assert random_case(3, {}).observe.lb_poll_period_s != 1.0  # seed 3 draws a slower poll
    with pytest.raises(SystemExit):
        observe_settings(["ccm.mode=node-driven"], parser)


def test_the_held_out_seeds_are_refused_without_the_flag() -> None:
    """A run spends held-out seeds: benchmarks/accuracy.py refuses any of them unless told
    `--held-out` (session 18 spent two by running a check across the bound)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"
    done = subprocess.run(
        [sys.executable, str(script), "--random", "2", "--first-seed", str(HELD_OUT_FROM - 1)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout
    assert "held-out set" in done.stderr and "--held-out" in done.stderr
    assert "randomized scenarios" not in done.stdout  # refused before any run
