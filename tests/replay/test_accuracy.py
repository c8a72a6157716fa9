"""Replay against the simulator's ground truth: every true window found inside the reported
bounds, no certain window that is not true, the class right where one window is one true window.
Both CCM modes, with and without mitigations, probe periods from 0.1 s to 5 s."""

from __future__ import annotations

import pytest

from tests.replay.accuracy import compare

CASES = [
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
    # Known weakness: when a node's old pod closes and its new pod opens within one sampling
    # interval, the cause at the start can be misread; the figure is reported, 90 % required.
    checked = wrong = 0
    for name, overrides in CASES:
        for seed in (1, 2, 3, 4, 5):
            report = compare(name, seed, overrides)
            checked += report.truth
            wrong += len(report.wrong_class)
    assert checked > 50
    assert wrong / checked <= 0.1, f"{wrong} of {checked} true windows got another class"


def test_seed_scenario_has_both_seed_classes() -> None:
    from recorder.sim import load_scenario, run
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
