"""The What-if page on the demo's AWS cluster: every control set to what the cluster ran with
replays the recorded windows, on the page's own path (a rollout's scope, the widgets).

The bug this guards: choosing the recorded health-check settings (or any deregistration delay)
re-simulated the timeline instead of keeping it, and the aws rollout showed 1 window against 3
recorded. Expected values come from the simulator's scenario and the replay API, never from the
page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.recorder.sim.config import load_scenario
from gapwatch.recorder.store import make_engine
from gapwatch.replay import api

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("whatif") / "demo.db")


@pytest.fixture(scope="module")
def store(demo: DemoStore) -> Iterator[Engine]:
    engine = make_engine(demo.url)
    yield engine
    engine.dispose()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _recorded_settings(preset: str) -> dict[str, Any]:
    """What the simulated cluster really ran with (its scenario), per What-if control."""
    s = load_scenario(preset, {})
    pod, hc = s.ingress.pod, s.lb.health_check
    return {
        "prestop_s": int(pod.prestop_s),
        "termination_grace_s": int(pod.termination_grace_s),
        "proxy_terminating_endpoints": s.kube_proxy.proxy_terminating_endpoints,
        "ccm_register_delay_s": int(s.ccm.register_delay_s),
        "hc_interval_s": int(hc.interval_s),
        "hc_healthy_threshold": hc.healthy_threshold,
        "hc_unhealthy_threshold": hc.unhealthy_threshold,
        "deregistration_delay_s": int(s.lb.deregistration_delay_s),
    }


def test_every_control_at_the_recorded_value_replays_the_recorded_rollout(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    (service,) = [s for s in api.services(store) if s.cluster == "aws"]
    (rollout,) = [r for r in api.rollouts(store) if r.service == service and r.kind == "rollout"]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"page": "whatif", "cluster": "aws", "rollout": rollout.id})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="whatif-rollout").value == rollout.id
    before = _metrics(at)
    assert before["What-if windows"] == before["Recorded windows"]
    recorded = int(before["Recorded windows"])
    assert recorded >= 2  # the rollout has windows to lose
    for field, value in _recorded_settings("aws-nlb").items():
        key = f"whatif-{field}"
        if isinstance(value, bool):
            at.segmented_control(key=key).set_value(value)
        else:
            at.select_slider(key=key).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after = _metrics(at)
    assert after["Recorded windows"] == str(recorded)
    assert after["What-if windows"] == str(recorded)
    assert after["What-if gap-seconds"] == after["Recorded gap-seconds"]


def test_a_changed_health_check_still_changes_the_replay(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fix must not make the LB controls inert: a slower health check than recorded
    replays differently (the API is the reference)."""
    from gapwatch.dashboard.page_whatif import WHOLE_RANGE
    from gapwatch.replay.model import WhatIf

    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    (service,) = [s for s in api.services(store) if s.cluster == "aws"]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"page": "whatif", "cluster": "aws"})
    at.run()
    at.selectbox(key="whatif-rollout").set_value(WHOLE_RANGE).run()  # the API's whole history
    at.select_slider(key="whatif-hc_unhealthy_threshold").set_value(10)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = api.whatif(store, service, WhatIf(hc_unhealthy_threshold=10))
    recorded = api.whatif(store, service, WhatIf())
    assert _metrics(at)["What-if windows"] == str(len(expected))
    shown = float(_metrics(at)["What-if gap-seconds"])
    assert abs(shown - sum(w.duration_s for w in expected)) < 0.051
    assert sum(w.duration_s for w in expected) > sum(w.duration_s for w in recorded)


@pytest.mark.parametrize("cluster", ["aws", "seed"])
def test_the_page_lists_the_advised_knobs_with_what_each_number_rests_on(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch, cluster: str
) -> None:
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    (service,) = [s for s in api.services(store) if s.cluster == cluster]
    advice = api.advise(store, service)
    assert advice.knobs
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"page": "whatif", "cluster": cluster})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    for knob in advice.knobs:
        assert knob in shown
    assert "rests on" in shown
    if cluster == "aws":  # a health-checking NLB: its target group's settings, as read
        assert "HealthCheckIntervalSeconds 10 (measured, 1 read(s))" in shown
    else:  # an endpoint-driven LB on AWS nodes: no Tencent knob (replay/platform.py)
        assert "preStop sleep" in shown and "enable-grace-deletion" not in shown


def test_the_measured_lags_say_their_unit(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evidence table's figures are seconds, and its columns say so as the page's other
    tables do (gap_s); they were bare p50, p90, p99, max beside a samples count."""
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    (service,) = [s for s in api.services(store) if s.cluster == "aws"]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"page": "whatif", "cluster": "aws"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (table,) = [d.value for d in at.dataframe if "samples" in d.value.columns]
    assert list(table.columns) == ["lag", "samples", "p50_s", "p90_s", "p99_s", "max_s"]
    measured = {lag.name: lag for lag in api.advise(store, service).lags}
    row = table.set_index("lag").loc["kube-proxy-programming"]
    lag = measured["kube-proxy-programming"]
    assert lag.max is not None and row["max_s"] == round(lag.max, 1)
    assert row["samples"] == lag.samples > 0


def test_the_advice_says_plainly_what_it_leaves(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page said 'With these settings the replay finds **0** windows instead of **3**': a
    search that came back empty reads the same. It says the timeline has no gap window left."""
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    (service,) = [s for s in api.services(store) if s.cluster == "seed"]
    advice = api.advise(store, service)
    assert advice.windows_after == 0 and advice.windows_before > 0
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"page": "whatif", "cluster": "seed"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    assert "finds **0** windows" not in shown
    assert (
        "Replayed under these settings, the recorded timeline has **no gap window left** "
        f"(as recorded it has {advice.windows_before} windows)."
    ) in shown
