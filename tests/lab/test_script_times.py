"""The lab's script makes each change on the fakes when it happened in the simulated world, not
when the simulator's observer finished looking at it (recorder/lab/session.py `change_at`).

Pure: the simulator and the script, no lab run. A true window's start and end are each made by
a change on its node (kube-proxy's health answer, the LB target's state, a watch event), so the
script must hold a step on that node within one observer period after each of them. Before
`change_at`, a kube-proxy close whose NodePort look timed out was scripted at the look's end,
a second (the probe timeout) after the truth: 28 of 176 window edges of these presets, seeds
1-3, had no step within the period, and the lab's bound check failed about 1 run in 5 (CI).
"""

from __future__ import annotations

import pytest

from gapwatch.recorder.lab.session import SCRIPT_PERIOD_S, LabSettings, script_of, simulate

#: scenarios whose windows the lab records (CI's rows and clouds), plus a slow kube-proxy
SCENARIOS = ("seed-3node", "alibaba-slb", "tencent-clb-grace", "slow-kube-proxy")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_window_edge_is_scripted_within_one_period(scenario: str) -> None:
    late: list[str] = []
    edges = 0
    for seed in (1, 2, 3):
        sc, result = simulate(LabSettings(scenario=scenario, seed=seed, duration_s=90.0))
        steps = script_of(result, sc.start)
        for w in result.truth.windows:
            for edge in (w.start_us / 1e6, w.end_us / 1e6):
                edges += 1
                near = [
                    at - edge
                    for at, obs in steps
                    if obs.node == w.node and -1e-6 <= at - edge <= SCRIPT_PERIOD_S + 1e-6
                ]
                if not near:
                    nearest = min((at - edge for at, o in steps if o.node == w.node), key=abs)
                    late.append(f"seed {seed} {w.node} {w.cls} edge {edge:.3f} s: {nearest:+.3f}")
    assert edges >= 8, edges
    assert not late, late
