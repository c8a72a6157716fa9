"""What-if and advice against the simulator: the recorded timeline replayed as recorded shows
the windows detection found; the advised settings, applied to the simulated cluster itself,
remove the windows they claim to remove."""

from __future__ import annotations

import pytest

from gapwatch.recorder.sim import load_scenario, run
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
