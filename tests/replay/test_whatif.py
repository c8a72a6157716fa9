"""What-if and advice against the simulator: the recorded timeline replayed as recorded shows
the windows detection found; the advised settings, applied to the simulated cluster itself,
remove the windows they claim to remove."""

from __future__ import annotations

import pytest

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.sim.presets import PRESETS
from gapwatch.replay.advise import advise
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import WhatIf
from gapwatch.replay.whatif import whatif


def _state(name: str, seed: int, overrides: dict[str, object] | None = None) -> FoldState:
    result = run(load_scenario(name, overrides or {}), seed=seed)
    facts = [f for i, obs in enumerate(result.observations, 1) for f in derive(i, obs)]
    return fold(FoldState(), facts)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_as_recorded_whatif_finds_the_recorded_windows_nodes(seed: int) -> None:
    state = _state("aws-nlb", seed)
    found = {(w.node, w.cls) for w in detect(state)}
    replayed = {(w.node, w.cls) for w in whatif(state, WhatIf())}
    assert found and len(found & replayed) >= len(found) - 1


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_advice_closes_the_windows_in_the_simulated_cluster(seed: int) -> None:
    state = _state("seed-3node", seed)
    (svc,) = lb_facing(state)
    advice = advise(state, svc)
    assert advice.windows_before > 0 and advice.windows_after == 0
    s = advice.settings
    assert s.prestop_s is not None and s.termination_grace_s is not None
    applied = {
        "ingress.pod.prestop_s": s.prestop_s,
        "ingress.pod.termination_grace_s": s.termination_grace_s,
        "kube_proxy.proxy_terminating_endpoints": bool(s.proxy_terminating_endpoints),
        "ccm.register_delay_s": s.ccm_register_delay_s or 0,
    }
    again = run(load_scenario("seed-3node", applied), seed=seed)
    assert again.truth.windows == ()


def test_a_crashed_pod_is_no_settings_business() -> None:
    # aws-nlb crashes a pod at 1000 s: the advice closes the rollout's windows and says so
    state = _state("aws-nlb", 1)
    (svc,) = lb_facing(state)
    advice = advise(state, svc)
    assert advice.windows_after == 1 < advice.windows_before
    assert any("crashed" in note for note in advice.notes)


def test_prestop_beyond_grace_is_cut_by_sigkill() -> None:
    state = _state("seed-3node", 1)
    generous = whatif(state, WhatIf(proxy_terminating_endpoints=True, prestop_s=60))
    capped = whatif(
        state,
        WhatIf(proxy_terminating_endpoints=True, prestop_s=60, termination_grace_s=1),
    )
    closing = ("closed-before-deregistered", "pod-gone-before-deregistered")
    assert not [w for w in generous if w.cls in closing]
    assert [w for w in capped if w.cls in closing]


#: the large preset over its first 20 minutes (a rollout, a drain, pod crashes); the rest whole
SHORTER: dict[str, dict[str, object]] = {"large": {"duration_s": 1200, "nodes.count": 60}}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_as_recorded_whatif_equals_the_recorded_windows(name: str, seed: int) -> None:
    """Every preset (a new one joins by being in PRESETS): as recorded == recorded, exactly."""
    state = _state(name, seed, SHORTER.get(name))
    recorded = detect(state)
    assert recorded
    assert whatif(state, WhatIf()) == recorded
    (svc, *_rest) = lb_facing(state)
    # settings equal to what the pods ran with are "as recorded" too
    same = WhatIf(proxy_terminating_endpoints=None, ccm_register_delay_s=0)
    assert whatif(state, same, [svc]) == detect(state, [svc])


def test_advice_on_a_health_checking_lb_names_its_knobs_and_no_registration_delay() -> None:
    state = _state("aws-nlb", 2)
    (svc,) = lb_facing(state)
    advice = advise(state, svc)
    assert advice.settings.ccm_register_delay_s is None
    assert any("deregistration_delay" in k for k in advice.knobs)
    assert all("measurement" in k or "shutdown" in k or "kube-proxy" in k for k in advice.knobs)


def test_advice_without_measurements_says_its_numbers_are_defaults() -> None:
    # no LB poller and no prober: nothing measured a lag
    result = run(load_scenario("seed-3node"), seed=1)
    kept = [o for o in result.observations if o.source not in ("kube-proxy-probe", "lb-poller")]
    facts = [f for i, obs in enumerate(kept, 1) for f in derive(i, obs)]
    state = fold(FoldState(), facts)
    (svc,) = lb_facing(state)
    advice = advise(state, svc)
    assert all(lag.samples == 0 for lag in advice.lags)
    assert any("not from a measurement" in note for note in advice.notes)
    assert all("no measurement" in k for k in advice.knobs if "rests on" in k)


@pytest.mark.parametrize(("name", "seed"), [("seed-3node", 1), ("aws-nlb", 1), ("aws-nlb", 2)])
def test_advice_notes_print_numbers_for_people(name: str, seed: int) -> None:
    """A worst-case lag read as "32.6324 s" in the demo's advice: at most a tenth of a second."""
    import re

    state = _state(name, seed)
    for svc in lb_facing(state):
        for note in advise(state, svc).notes:
            assert not re.search(r"\d\.\d{2,}", note), note


@pytest.mark.parametrize("seed", [1, 2])
def test_health_check_settings_move_the_measured_reaction_by_their_difference(seed: int) -> None:
    """A node-driven LB's reaction in the what-if is the measured one, moved by what the
    settings change in thresholds x interval: the recorded values (the target group's read, as
    the simulator's aws-nlb sets them: 10 s, 2/2) change nothing, and every extra unhealthy
    check adds gap-seconds."""
    state = _state("aws-nlb", seed, {"traffic.rps": 0})
    (svc,) = lb_facing(state)
    hc = load_scenario("aws-nlb").lb.health_check
    lb = {
        "hc_interval_s": hc.interval_s,
        "hc_healthy_threshold": float(hc.healthy_threshold),
        "hc_unhealthy_threshold": float(hc.unhealthy_threshold),
    }

    def gap_s(**changes: float) -> float:
        found = whatif(state, WhatIf(**changes), [svc], lb=lb)  # type: ignore[arg-type]
        return sum(w.duration_s for w in found if w.cls != "node-not-ready")

    recorded = gap_s()
    same = WhatIf(hc_interval_s=hc.interval_s, hc_unhealthy_threshold=hc.unhealthy_threshold)
    assert whatif(state, same, [svc], lb=lb) == whatif(state, WhatIf(), [svc], lb=lb)
    slower = [gap_s(hc_unhealthy_threshold=t) for t in range(hc.unhealthy_threshold, 8)]
    assert slower == sorted(slower) and slower[-1] > recorded
