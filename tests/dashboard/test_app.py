"""Every page runs under AppTest on a simulated store and shows the replay's (and truth's) numbers.

The store is the demo's (the seed cluster and the AWS-NLB-like one, simulated into SQLite and
replayed), built once per module. Expected numbers come from the replay API on the same store
and from the simulator's truth, never from the page itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.dashboard.page_whatif import advice_outcome
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api
from gapwatch.replay.model import Rollout, Window

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="module")
def store(demo: DemoStore) -> Iterator[Engine]:
    engine = make_engine(demo.url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(demo: DemoStore, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    return AppTest.from_file(APP, default_timeout=30)


def _open(at: AppTest, **params: str) -> AppTest:
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _seed_windows(store: Engine) -> list[Window]:
    return [w for w in api.windows(store) if w.service.cluster == "seed"]


def test_overview_shows_the_replays_windows(app: AppTest, store: Engine, demo: DemoStore) -> None:
    at = _open(app, page="overview")
    wins = api.windows(store)
    metrics = _metrics(at)
    assert metrics["Gap windows"] == str(len(wins))
    assert metrics["Gap-seconds"] == f"{sum(w.duration_s for w in wins):.1f}"
    assert metrics["Clusters"] == str(len({s.cluster for s in api.services(store)}))
    assert len(at.get("plotly_chart")) == 3
    counts = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["meta"]["counts"]
    assert sum(counts.values()) == len(wins)
    # the simulator's truth: the seed rollout dropped traffic, and the page says which rollout
    truth = next(c.truth for c in demo.clusters if c.cluster == "seed")
    assert truth.windows and _seed_windows(store)
    ranked = json.loads(at.get("plotly_chart")[2].proto.spec)["layout"]["meta"]["ids"]
    seed_rollouts = [r for r in api.rollouts(store, cluster="seed") if r.kind == "rollout"]
    assert {r.revision_to for r in seed_rollouts} == {r.revision_to for r in truth.rollouts}
    assert {r.id for r in seed_rollouts} <= set(ranked)
    assert at.query_params["page"] == "overview"


def test_overview_is_clean_when_nothing_dropped(app: AppTest) -> None:
    at = _open(app, page="overview", since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z")
    assert _metrics(at)["Gap windows"] == "0"
    assert any("Clean" in s.value for s in at.success)


def test_rollout_page_shows_the_seed_rollout(app: AppTest, store: Engine, demo: DemoStore) -> None:
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    assert at.selectbox(key="rollout").value == rollout.id
    (truth,) = next(c.truth for c in demo.clusters if c.cluster == "seed").rollouts
    assert at.selectbox(key="rollout").value == rollout.id
    assert truth.revision_to in str(at.selectbox(key="rollout").format_func(rollout.id))
    metrics = _metrics(at)
    assert metrics["Gap windows"] == str(len(rollout.windows))
    assert metrics["Gap-seconds"] == f"{rollout.gap_seconds:.1f}"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    rows = spec["layout"]["meta"]["rows"]
    assert {r.split(" · ")[0] for r in rows} >= {w.node for w in rollout.windows}
    labels = " ".join(a["text"] for a in spec["layout"]["annotations"])
    assert all(w.cls in labels for w in rollout.windows)
    table = at.dataframe[0].value
    assert len(table) == len(rollout.windows)
    assert sorted(table["class"]) == sorted(w.cls for w in rollout.windows)
    assert at.query_params["rollout"] == rollout.id


def test_rollout_page_names_an_undecided_class_beside_the_class(
    app: AppTest, store: Engine
) -> None:
    """The seed rollout's NODE2 window may be either reading (docs/semantics.md, "Undecided
    classes"): its label and hover text give both, its table row keeps `class` the likelier one
    (filters and colours) with `also` beside it, and the per-class table counts it."""
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    undecided = [w for w in rollout.windows if w.also]
    assert undecided and len(undecided) < len(rollout.windows)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    labels = [a["text"] for a in spec["layout"]["annotations"]]
    hovers = [
        t for trace in spec["data"] if trace.get("name") == "gap windows" for t in trace["text"]
    ]
    for w in undecided:
        wording = f"{w.cls} (or {' or '.join(w.also)}: undecided)"
        assert any(wording in text for text in labels)
        assert any(wording in text for text in hovers)
    assert sum("undecided" in text for text in hovers) == len(undecided)
    table = at.dataframe(key="window_table").value
    assert sorted(zip(table["node"], table["class"], table["also"], strict=True)) == sorted(
        (w.node, w.cls, " or ".join(w.also)) for w in rollout.windows
    )
    (per_class,) = [d.value for d in at.dataframe if "undecided" in d.value.columns]
    per_class = per_class.set_index("class")
    for cls in {w.cls for w in rollout.windows}:
        mine = [w for w in rollout.windows if w.cls == cls]
        assert per_class.loc[cls, "undecided"] == sum(1 for w in mine if w.also)


def test_rollout_table_selection_shows_the_events_behind_a_window(
    app: AppTest, store: Engine
) -> None:
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    first = sorted(rollout.windows, key=lambda w: (w.start_us, w.node))[0]
    state = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.session_state["window_table"] = state
    at.run()
    assert not at.exception
    shown = at.dataframe[-1].value
    assert sorted(shown["id"]) == sorted(set(first.opened_by) | set(first.closed_by))


def test_a_possible_window_says_why_on_request(app: AppTest, store: Engine) -> None:
    """Selecting the seed rollout's possible window offers a toggle (off: nothing folded);
    on, the page says why it is only possible, as replay.openness reads it."""
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    listed = sorted(rollout.windows, key=lambda w: (w.start_us, w.node))
    row, win = next((i, w) for i, w in enumerate(listed) if not w.certain)
    at.session_state["window_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    (toggle,) = [t for t in at.toggle if t.key == "why-possible"]
    assert not any("Why possible" in m.value for m in at.markdown)
    toggle.set_value(True).run()
    assert not at.exception
    why = api.openness(store, win.service, [win])[win]
    (said,) = [m.value for m in at.markdown if "Why possible" in m.value]
    assert why.why in said and why.kube_proxy in said and why.lb in said
    # a proven window offers nothing of the kind
    proven = next(i for i, w in enumerate(listed) if w.certain)
    at.session_state["window_table"] = {"selection": {"rows": [proven], "columns": [], "cells": []}}
    at.run()
    assert not [t for t in at.toggle if t.key == "why-possible"]


def test_whatif_recomputes_with_the_replay_engine(app: AppTest, store: Engine) -> None:
    at = _open(app, page="whatif", cluster="seed")
    (service,) = [s for s in api.services(store) if s.cluster == "seed"]
    recorded = [w for w in api.windows(store) if w.service == service]
    assert _metrics(at)["Recorded windows"] == str(len(recorded))
    at.select_slider(key="whatif-prestop_s").set_value(30)
    # ProxyTerminatingEndpoints is a toggle (as recorded / on / off), not a slider
    toggle = at.segmented_control(key="whatif-proxy_terminating_endpoints")
    assert toggle.value == "as recorded"
    toggle.set_value(True)
    at.run()
    assert not at.exception
    from gapwatch.replay.model import WhatIf

    expected = api.whatif(store, service, WhatIf(prestop_s=30, proxy_terminating_endpoints=True))
    assert _metrics(at)["What-if windows"] == str(len(expected))
    advice = api.advise(store, service)
    assert advice_outcome(advice) in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize(("cluster", "preset"), [("seed", "seed-3node"), ("aws", "aws-nlb")])
def test_whatif_shows_the_as_recorded_value_on_every_control(
    app: AppTest, cluster: str, preset: str
) -> None:
    """The issue: What-if showed no "as recorded" value. The pods' preStop and grace period are
    checked against the simulator's scenario (what the pods really ran with), the health checks
    against the LB kind: the seed's CCM registers endpoints, the aws NLB health-checks nodes."""
    from gapwatch.dashboard.page_whatif import SETTINGS
    from gapwatch.recorder.sim.config import load_scenario

    at = _open(app, page="whatif", cluster=cluster)
    pod = load_scenario(preset, {}).ingress.pod
    shown: dict[str, str] = {}
    for field, _label, _choices in SETTINGS:
        key = f"whatif-{field}"
        found = [w for w in (*at.select_slider, *at.get("segmented_control")) if w.key == key]
        assert len(found) == 1, key
        widget = found[0]
        first = widget.options[0] if hasattr(widget, "options") else widget.proto.options[0]
        assert first.startswith("as recorded: "), (key, first)
        shown[field] = first.removeprefix("as recorded: ")
        assert f"Recorded: {shown[field]}." in widget.help
    assert shown["prestop_s"] == f"{pod.prestop_s:g} s"
    assert shown["termination_grace_s"] == f"{pod.termination_grace_s:g} s"
    assert shown["proxy_terminating_endpoints"] in ("on", "off", "on/off")
    assert shown["ccm_register_delay_s"] == "none added"
    node_driven = cluster == "aws"
    # the simulated poller read the target group's settings once: a measurement, not a default
    hc = load_scenario(preset, {}).lb.health_check
    expected = f"{hc.interval_s:g} s (measured, 1 sample)"
    assert (shown["hc_interval_s"] == expected) is node_driven
    assert shown["hc_interval_s"].startswith("not used") is not node_driven


def test_whatif_opens_on_the_worst_rollout_and_replays_its_span(
    app: AppTest, store: Engine
) -> None:
    """Issue 15: the page replays one rollout's span (from the projections and the facts
    around it), not the Service's whole history; "whole range" is still there to pick."""
    from gapwatch.dashboard.figures import rank_rollouts
    from gapwatch.dashboard.page_whatif import WHOLE_RANGE
    from gapwatch.replay.model import WhatIf
    from gapwatch.replay.rollout_range import rollout_range

    at = _open(app, page="whatif", cluster="aws")
    (service,) = [s for s in api.services(store) if s.cluster == "aws"]
    worst = rank_rollouts(api.rollouts(store, service=service))[0]
    scope = at.selectbox(key="whatif-rollout")
    assert scope.value == worst.id and WHOLE_RANGE in scope.options
    lo, hi = rollout_range(worst, api.assumptions(store))  # as `gapwatch whatif --rollout`
    since, until = from_micros(lo), from_micros(hi)
    recorded = api.windows(store, service=service, since=since, until=until)
    assert _metrics(at)["Recorded windows"] == str(len(recorded))
    at.select_slider(key="whatif-prestop_s").set_value(45).run()
    assert not at.exception
    expected = api.whatif(store, service, WhatIf(prestop_s=45), since=since, until=until)
    assert _metrics(at)["What-if windows"] == str(len(expected))
    advice = api.advise(store, service, since=since, until=until)
    assert f"(as recorded it has {advice.windows_before} window" in advice_outcome(advice)
    assert advice_outcome(advice) in " ".join(m.value for m in at.markdown)


def test_sql_console_runs_reads_and_refuses_writes(app: AppTest, store: Engine) -> None:
    at = _open(app, page="sql")
    at.text_area(key="sql").input("SELECT count(*) AS n FROM events")
    at.button(key="run").click()
    at.run()
    with store.connect() as conn:
        total = conn.execute(select(func.count()).select_from(events)).scalar_one()
    (result,) = [d.value for d in at.dataframe if list(d.value.columns) == ["n"]]
    assert int(result["n"][0]) == total
    assert "view `v_windows`" in [e.label for e in at.expander]
    at.text_area(key="sql").input("SELECT count(*) AS n FROM v_windows")
    at.button(key="run").click()
    at.run()
    (result,) = [d.value for d in at.dataframe if list(d.value.columns) == ["n"]]
    assert int(result["n"][0]) == len(api.windows(store))
    at.text_area(key="sql").input("DROP TABLE events")
    at.button(key="run").click()
    at.run()
    assert any("QueryRejected" in e.value for e in at.error)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == total


@pytest.mark.postgres
def test_sql_console_says_why_it_cut_the_rows(
    app: AppTest, console: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row wider than the console's 2 MiB row cap (PostgreSQL: dashboard/sqlgate.py): the
    page said only "(limit 1000 reached: more rows exist)", naming a limit that was not the
    one reached; now it names the row, its width, the cap and how to narrow the query."""
    monkeypatch.setenv("GAPWATCH_CONSOLE_DB", console)
    at = _open(app, page="sql")
    at.text_area(key="sql").input(
        "SELECT g, CASE WHEN g = 3 THEN repeat('x', 3000000) ELSE 'ok' END AS v "
        "FROM generate_series(1, 4) g ORDER BY g"
    )
    at.button(key="run").click()
    at.run()
    assert not at.exception and not at.error
    (warning,) = [w.value for w in at.warning]
    assert "row 3 is 3,000,004 bytes as text" in warning
    assert "2,097,152 bytes a console row may be" in warning and "`left(column, 1000)`" in warning
    assert "2 rows" in " ".join(c.value for c in at.caption)


def test_live_overview_follows_a_recorder_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gapwatch.dashboard.demo import simulate_into

    built = build_demo_store(tmp_path / "live.db", scenarios=[("seed-3node", "seed")])
    monkeypatch.setenv("GAPWATCH_DB", built.url)
    at = _open(AppTest.from_file(APP, default_timeout=30), page="overview", live="1")
    assert at.toggle(key="live").value is True
    assert _metrics(at)["Clusters"] == "1"
    engine = make_engine(built.url)
    try:
        simulate_into(engine, "aws-nlb", "aws")  # a recorder writes; nobody runs a refresh
        at.run()  # what the live fragment's timer does every few seconds
        assert not at.exception
        wins = api.windows(engine)
        assert {w.service.cluster for w in wins} == {"seed", "aws"}
        assert _metrics(at)["Clusters"] == "2"
        assert _metrics(at)["Gap windows"] == str(len(wins))
    finally:
        engine.dispose()


def test_clicking_a_window_marker_shows_its_events(app: AppTest, store: Engine) -> None:
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    wins = sorted(rollout.windows, key=lambda w: (w.start_us, w.node))
    last = len(wins) - 1
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    (markers,) = [t for t in spec["data"] if t.get("name") == "gap windows"]
    assert sorted(markers["customdata"]) == list(range(len(wins)))
    point = {"curve_number": len(spec["data"]) - 1, "point_index": 0, "customdata": last}
    at.session_state["lanes"] = {"selection": {"points": [point], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert any(wins[last].node in s.value for s in at.subheader)
    shown = at.dataframe[-1].value
    assert sorted(shown["id"]) == sorted(set(wins[last].opened_by) | set(wins[last].closed_by))


def test_clicking_a_ranked_rollout_opens_it(app: AppTest, store: Engine) -> None:
    at = _open(app, page="overview")
    (target,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    point = {"curve_number": 0, "point_index": 0, "customdata": target.id}
    at.session_state["ranked"] = {"selection": {"points": [point], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.radio(key="page").value == "rollout"
    assert at.selectbox(key="rollout").value == target.id
    assert at.query_params["page"] == "rollout"


def test_the_rollout_page_asks_replay_for_its_range_and_nodes_only(
    app: AppTest, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gapwatch.dashboard import cache

    calls: list[dict[str, object]] = []
    real = api.timeline

    def recording(engine: Engine, service: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return real(engine, service, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "timeline", recording)
    cache.rollout_page.clear()
    at = _open(app, page="rollout", cluster="seed")
    assert not at.exception and _metrics(at)["Gap windows"] != ""
    (asked,) = calls
    rollout = next(r for r in api.rollouts(store, cluster="seed") if r.id == at.selectbox(
        key="rollout").value)  # fmt: skip
    assert asked["since"] is not None and asked["until"] is not None
    assert asked["since"] <= from_micros(rollout.start_us)  # type: ignore[operator]
    assert asked["until"] >= from_micros(rollout.end_us)  # type: ignore[operator]
    assert set(asked["nodes"]) == set(rollout.nodes)  # type: ignore[call-overload]


def test_a_rollout_and_node_link_opens_that_window_and_survives_a_reload(
    app: AppTest, store: Engine
) -> None:
    """`?page=rollout&cluster=&rollout=&node=` is what a person pastes into an incident
    channel: it opens the rollout with the events behind the window on that node."""
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    last = sorted(rollout.windows, key=lambda w: (w.start_us, w.node))[-1]
    at = _open(app, page="rollout", cluster="seed", rollout=rollout.id, node=last.node)
    assert at.selectbox(key="rollout").value == rollout.id
    assert any(f"Events behind the window on {last.node}" in h.value for h in at.subheader)
    shown = at.dataframe[-1].value
    assert sorted(shown["id"]) == sorted(set(last.opened_by) | set(last.closed_by))
    for key, value in {"rollout": rollout.id, "node": last.node, "cluster": "seed"}.items():
        assert at.query_params[key] == value
    # every rollout label names its cluster
    options = at.selectbox(key="rollout").options
    assert all(str(o).startswith("seed · ") for o in options)


def test_clicking_a_window_writes_its_node_into_the_url(app: AppTest, store: Engine) -> None:
    at = _open(app, page="rollout", cluster="seed")
    (rollout,) = [r for r in api.rollouts(store, cluster="seed") if r.windows]
    ordered = sorted(rollout.windows, key=lambda w: (w.start_us, w.node))
    at.session_state["window_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["node"] == ordered[1].node


def test_sql_page_has_no_sidebar_filters(app: AppTest) -> None:
    at = _open(app, page="sql", cluster="seed")
    assert [s.label for s in at.sidebar.selectbox] == []
    assert [t.label for t in at.sidebar.text_input] == []
    assert "cluster" not in at.query_params


def test_overview_counts_rollouts_apart_from_node_disruptions(app: AppTest, store: Engine) -> None:
    at = _open(app, page="overview")
    rolls = api.rollouts(store)
    real = [r for r in rolls if r.kind == "rollout"]
    assert any(r.kind != "rollout" for r in rolls), "the aws demo drains and deletes nodes"
    damaged = sum(1 for r in real if r.windows)
    assert _metrics(at)["Rollouts with gaps"] == f"{damaged} of {len(real)}"


def test_a_window_outside_any_rollout_is_listed_and_its_link_opens_its_lanes(
    app: AppTest, store: Engine
) -> None:
    """The aws demo's crash window belongs to no rollout or node disruption: the Overview lists
    it with a link, and the link (pasted as a fresh visit) draws that node's lanes around it."""
    from urllib.parse import parse_qsl, urlsplit

    unowned = [w for w in api.windows(store, cluster="aws") if w.rollout is None]
    assert unowned, "the aws demo has a window outside any rollout"
    at = _open(app, page="overview")
    # AppTest does not find dataframes by key: the Overview's only table with a `proven` column
    (table,) = [d.value for d in at.dataframe if "proven" in d.value.columns]
    listed = sorted(zip(table["cluster"], table["node"], table["class"], strict=True))
    everywhere = [w for w in api.windows(store) if w.rollout is None]
    assert listed == sorted((w.service.cluster, w.node, w.cls) for w in everywhere)
    win = sorted(unowned, key=lambda w: (w.start_us, w.node))[0]
    row = next(
        i
        for i in range(len(table))
        if (table["cluster"][i], table["node"][i], table["class"][i]) == ("aws", win.node, win.cls)
    )
    params = dict(parse_qsl(urlsplit(table["open"][row]).query))
    assert params["page"] == "rollout" and "rollout" not in params
    fresh = _open(AppTest.from_file(APP, default_timeout=30), **params)
    assert any(win.node in h.value for h in fresh.header)
    spec = json.loads(fresh.get("plotly_chart")[0].proto.spec)
    assert {r.split(" · ")[0] for r in spec["layout"]["meta"]["rows"]} == {win.node}
    lo, hi = spec["layout"]["xaxis"]["range"]
    assert lo < from_micros(win.start_us).isoformat() and hi > from_micros(win.end_us).isoformat()
    shown = fresh.dataframe[0].value
    assert (win.cls, win.node) in set(zip(shown["class"], shown["node"], strict=True))
    assert any(f"Events behind the window on {win.node}" in h.value for h in fresh.subheader)
    assert fresh.query_params["node"] == win.node


# A URL that names a rollout or a cluster the store does not hold says so on the page. Before,
# `?page=rollout&rollout=nope` showed the worst rollout and `?cluster=nope` every cluster without
# a word, as if they were what the URL asked for; and the id `gapwatch rollouts` prints
# (`nd-58d59`, the shortest unique prefix, which `report --rollout` takes) opened another rollout
# than the one it names, on the rollout page and on the what-if page alike.


def _quiet_disruption(store: Engine) -> Rollout:
    """A node disruption without windows: never the worst one, which a page falls back to."""
    return next(r for r in api.rollouts(store) if r.kind != "rollout" and not r.windows)


def test_the_short_id_rollouts_prints_opens_that_rollout(
    demo: DemoStore, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = _quiet_disruption(store)
    short = quiet.id[:8]  # as `gapwatch rollouts` prints it: nd-58d59
    assert [r.id for r in api.rollouts(store) if r.id.startswith(short)] == [quiet.id]
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    at = _open(AppTest.from_file(APP, default_timeout=30), page="rollout", rollout=short)
    assert at.selectbox(key="rollout").value == quiet.id
    assert not at.warning and _metrics(at)["Gap windows"] == "0"
    cluster = quiet.service.cluster
    whatif = _open(
        AppTest.from_file(APP, default_timeout=30), page="whatif", cluster=cluster, rollout=short
    )
    assert whatif.selectbox(key="whatif-rollout").value == quiet.id
    assert not whatif.warning


def test_a_rollout_the_store_lacks_is_named_before_another_is_shown(app: AppTest) -> None:
    at = _open(app, page="rollout", rollout="ro-nope")
    [warning] = at.warning
    assert "'ro-nope' is none of the 4 rollouts" in warning.value
    assert "showing the worst one" in warning.value
    whatif = _open(
        AppTest.from_file(APP, default_timeout=30), page="whatif", cluster="seed", rollout="ro-nope"
    )
    assert any("'ro-nope'" in w.value for w in whatif.warning)


def test_a_cluster_the_store_lacks_is_named(app: AppTest) -> None:
    at = _open(app, page="overview", cluster="prod")
    [warning] = at.warning
    assert "no cluster 'prod' in this store (it holds aws, seed)" in warning.value
    assert at.selectbox(key="cluster").value == "(all)"


def test_seconds_are_shown_to_a_tenth_on_every_page(app: AppTest, store: Engine) -> None:
    """The Overview's Gap-seconds read 41.4 above a rollouts table of 18.50, and the rollout
    page's read 9.90 beside 'Possible range 1.0-12.0 s': one quantity, two precisions. Every
    gap-seconds and duration figure is to a tenth, as the What-if page's and the lags are."""
    at = _open(app, page="overview")
    total = sum(w.duration_s for w in api.windows(store))
    assert _metrics(at)["Gap-seconds"] == f"{total:.1f}"
    formats = {
        key: col["type_config"]["format"]
        for d in at.dataframe
        for key, col in json.loads(d.proto.columns).items()
        if col.get("type_config", {}).get("type") == "number"
    }
    assert formats == {"gap_s": "%.1f", "duration_s": "%.1f"}, formats
    shown = [json.loads(d.proto.columns) for d in at.dataframe if "gap_s" in d.value.columns]
    assert len(shown) == 2 and all(c["gap_s"]["type_config"]["format"] == "%.1f" for c in shown)
    rollout = _open(AppTest.from_file(APP, default_timeout=30), page="rollout", cluster="seed")
    (shown_id,) = [rollout.selectbox(key="rollout").value]
    (opened,) = [r for r in api.rollouts(store, cluster="seed") if r.id == shown_id]
    gap = _metrics(rollout)["Gap-seconds"]
    assert gap == f"{sum(w.duration_s for w in opened.windows):.1f}", gap
