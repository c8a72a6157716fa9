"""What-if runs with the health-check settings detection ran with, CloudTrail's included.

A store with no LB poller: the target group's settings are stated only by CloudTrail's
CreateTargetGroup (AWS's DescribeTargetGroups example: interval 30 s, healthy 5, unhealthy 2;
the history of tests/replay/test_measured_health_check.py, literal records through the real
importer). Detection uses them (replay.measure.lb_settings); what-if must too, or choosing the
recorded values re-simulates the timeline with the defaults (10 s, 3/3) and choosing the
defaults is taken for "as recorded".
"""

from __future__ import annotations

from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.advise import advise
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef, WhatIf
from gapwatch.replay.recorded_lb import recorded_for
from gapwatch.replay.whatif import whatif
from tests.replay.builders import at, facts_of
from tests.replay.test_measured_health_check import _history
from tests.replay.test_membership import REF, SETTINGS, us

#: What the CreateTargetGroup call stated.
STATED = WhatIf(hc_interval_s=30.0, hc_healthy_threshold=5, hc_unhealthy_threshold=2)


def _state() -> FoldState:
    return fold(FoldState(), facts_of(_history()))


def test_the_recorded_lb_settings_are_cloudtrails() -> None:
    assert recorded_for(_state(), REF, SETTINGS, None) == {
        "hc_interval_s": 30.0,
        "hc_healthy_threshold": 5.0,
        "hc_unhealthy_threshold": 2.0,
    }
    # a poller's read of the Service (measure_store) fills only what CloudTrail left unstated
    poller = {"hc_interval_s": 10.0, "hc_unhealthy_threshold": 3.0}
    assert recorded_for(_state(), REF, SETTINGS, poller)["hc_interval_s"] == 30.0


def test_as_recorded_reproduces_the_recorded_windows() -> None:
    state = _state()
    recorded = detect(state, settings=SETTINGS)
    assert [(w.cls, w.end_latest_us) for w in recorded] == [
        ("closed-before-deregistered", us(241 + 2 * 30))
    ]
    assert whatif(state, WhatIf(), settings_of(), SETTINGS) == recorded
    # the recorded values chosen explicitly (the What-if page shows them) change nothing
    assert whatif(state, STATED, settings_of(), SETTINGS) == recorded


def test_the_assumed_defaults_are_a_change_when_cloudtrail_stated_others() -> None:
    """10 s x 3 instead of the stated 30 s x 2 (5 to turn healthy): the LB notices sooner, so
    the window shrinks (here to none: the typical 15 s reaction, 30 s shorter, is clamped to
    kube-proxy's own change). Before, the defaults were taken for the recorded values and the
    recorded window came back unchanged."""
    state = _state()
    (recorded,) = detect(state, settings=SETTINGS)
    defaults = WhatIf(hc_interval_s=10.0, hc_healthy_threshold=3, hc_unhealthy_threshold=3)
    found = whatif(state, defaults, settings_of(), SETTINGS)
    assert found != [recorded]
    assert all(w.provenance == "inferred" for w in found)
    assert sum(w.end_latest_us - w.start_earliest_us for w in found) < (
        recorded.end_latest_us - recorded.start_earliest_us
    )


def test_advice_names_the_stated_settings_as_measured() -> None:
    state = _state()
    found = advise(state, REF, SETTINGS)
    (aws,) = [k for k in found.knobs if k.startswith("AWS target group")]
    assert "HealthCheckIntervalSeconds 30 (measured, 1 read(s))" in aws
    assert "UnhealthyThresholdCount 2 (measured, 1 read(s))" in aws


def settings_of() -> list[ServiceRef]:
    return [REF]


def test_the_scoped_whatif_of_a_store_uses_them_too(store_url: str) -> None:
    """Through a real store (SQLite and PostgreSQL): the What-if page's range path folds only
    the facts around the range (replay.scope), without the membership calls that tie
    CloudTrail's statements to the Service; the projections store the stated settings with
    the Service's context, so the scoped what-if and the whole-history one agree."""
    engine = make_engine(store_url)
    try:
        EventWriter(engine, derive=write_facts).write_all(_history())
        recorded = api.windows(engine, service=REF)
        assert [w.cls for w in recorded] == ["closed-before-deregistered"]
        since, until = at(200), at(400)
        found = api.load_scope(engine, REF, since, until)
        assert found.lb["hc_interval_s"] == 30.0 and found.lb["hc_unhealthy_threshold"] == 2
        assert api.whatif(engine, REF, STATED, since=since, until=until) == recorded
        assert api.whatif(engine, REF, STATED) == recorded
        defaults = WhatIf(hc_interval_s=10.0, hc_healthy_threshold=3, hc_unhealthy_threshold=3)
        assert api.whatif(engine, REF, defaults, since=since, until=until) != recorded
    finally:
        engine.dispose()


def test_the_whatif_page_shows_the_stated_values_as_recorded() -> None:
    """The What-if page's "as recorded" labels (dashboard.page_whatif.recorded_values, a pure
    function of the folded state): CloudTrail's statements, counted as measured."""
    from gapwatch.dashboard.page_whatif import recorded_values

    shown = recorded_values(_state(), REF, SETTINGS, None)
    assert shown["hc_interval_s"] == "30 s (measured, 1 sample)"
    assert shown["hc_healthy_threshold"] == "5 (measured, 1 sample)"
    assert shown["hc_unhealthy_threshold"] == "2 (measured, 1 sample)"
