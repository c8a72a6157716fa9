"""The replay commands end to end: simulate the seed cluster, then gaps/rollouts/timeline/advise."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.replay.model import class_text

runner = CliRunner()
WINDOW_FIELDS = {
    "cluster", "service", "node", "class", "start", "end", "duration_s", "duration_min_s",
    "duration_max_s", "provenance", "rollout", "opened_by", "closed_by",
}  # fmt: skip


def gw(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def seeded(store_url: str) -> str:
    gw("simulate", "--scenario", "seed-3node", "--seed", "1", "--db", store_url)
    return store_url


def test_gaps_json_lists_both_seed_classes(seeded: str) -> None:
    windows = json.loads(gw("gaps", "--db", seeded, "--json"))
    assert {"registered-before-forwarding", "closed-before-deregistered"} <= {
        w["class"] for w in windows
    }
    for w in windows:
        assert set(w) >= WINDOW_FIELDS
        assert w["service"] == "istio-system/istio-ingressgateway" and w["cluster"] == "sim"
        assert w["start"].endswith("Z") and w["duration_min_s"] <= w["duration_max_s"]
        assert w["provenance"] in ("measured", "inferred") and w["opened_by"]
    csv_lines = gw("gaps", "--db", seeded, "--csv").splitlines()
    assert csv_lines[0].startswith("cluster,service,node,class,start,end")
    assert len(csv_lines) == len(windows) + 1


def test_gaps_why_says_why_each_possible_window_is_possible(seeded: str) -> None:
    """`gaps --why`: every possible window carries replay.openness's reading (asked here of
    the API on the same store), a proven one carries none; the table says it in a paragraph."""
    from gapwatch.recorder.store import make_engine
    from gapwatch.replay import api

    result = runner.invoke(app, ["gaps", "--db", seeded, "--json", "--why"])
    assert result.exit_code == 0, result.output
    # which Service's samples it reads goes to stderr (a progress note), never into the JSON
    assert "reading the samples of sim/" in result.stderr
    rows = json.loads(result.stdout)
    engine = make_engine(seeded)
    try:
        found = api.windows(engine)
        why = {}
        for svc in {w.service for w in found}:
            why.update(api.openness(engine, svc, found))
    finally:
        engine.dispose()
    assert len(rows) == len(found) and why, "the seed run has a possible window"
    for row, w in zip(rows, found, strict=True):
        assert row["node"] == w.node and row["certain"] == w.certain
        if w.certain:
            assert row["open_side"] is None and row["denser"] is None
            continue
        o = why[w]
        assert (row["open_side"], row["open_kube_proxy"], row["open_lb"], row["denser"]) == (
            o.side, o.kube_proxy, o.lb, o.denser
        )  # fmt: skip
    table = gw("gaps", "--db", seeded, "--why")
    assert f"why possible ({len(why)} window" in table
    assert all(o.why in table and o.denser in table for o in why.values())
    # without --why nothing of it is read or printed
    assert "why possible" not in gw("gaps", "--db", seeded)
    assert "open_side" not in json.loads(gw("gaps", "--db", seeded, "--json"))[0]


def test_advise_recommends_settings_whose_whatif_has_no_windows(seeded: str) -> None:
    advice = json.loads(gw("advise", "--db", seeded, "--json"))
    assert advice["windows_before"] > 0
    assert advice["windows_after"] == 0 and advice["whatif_windows"] == []
    settings = advice["settings"]
    assert settings["proxy_terminating_endpoints"] is True
    assert settings["prestop_s"] > 0 and settings["ccm_register_delay_s"] > 0
    assert settings["termination_grace_s"] >= settings["prestop_s"]
    lags = {lag["name"]: lag for lag in advice["lags"]}
    assert lags["kube-proxy-programming"]["samples"] > 0
    text = gw("advise", "--db", seeded)
    assert "recommended:" in text and "windows under the recommendation (what-if): 0" in text


def test_rollouts_timeline_and_replay(seeded: str) -> None:
    (rollout,) = json.loads(gw("rollouts", "--db", seeded, "--json"))
    assert rollout["kind"] == "rollout" and rollout["windows"] >= 2
    assert rollout["workload"] == "Deployment/istio-system/istio-ingressgateway"
    at = json.loads(gw("gaps", "--db", seeded, "--json"))[0]["end"]
    lanes = json.loads(gw("timeline", "--db", seeded, "--at", at, "--node", "NODE1", "--json"))
    assert {s["lane"] for s in lanes} == {"endpoints", "proxy", "lb", "pod", "node"}
    assert "rebuilt" in runner.invoke(app, ["replay", "--db", seeded, "--rebuild"]).output


def test_rollouts_count_undecided_windows_as_gaps_words_them(seeded: str) -> None:
    """The seed cluster's rollout has an undecided window (closed-before-deregistered or
    registered-before-forwarding); `--json` and `--csv` count it by class, as undecided, and by
    the class text `gaps` prints, from the same windows `gaps --json` lists."""
    windows = json.loads(gw("gaps", "--db", seeded, "--json"))
    undecided = [w for w in windows if w["also"]]
    assert undecided and len(undecided) < len(windows)
    texts = Counter(class_text(w["class"], w["also"]) for w in windows)
    (rollout,) = json.loads(gw("rollouts", "--db", seeded, "--json"))
    assert rollout["windows"] == len(windows)
    assert rollout["undecided"] == len(undecided)
    by_class = Counter(w["class"] for w in windows)
    assert rollout["windows_by_class"] == " ".join(f"{k}={v}" for k, v in sorted(by_class.items()))
    by_text = dict(part.rsplit("=", 1) for part in rollout["windows_by_class_text"].split("; "))
    assert {k: int(v) for k, v in by_text.items()} == dict(texts)
    assert any(k.endswith(": undecided)") for k in by_text)
    (row,) = csv.DictReader(io.StringIO(gw("rollouts", "--db", seeded, "--csv")))
    assert row["undecided"] == str(len(undecided))
    assert row["windows_by_class_text"] == rollout["windows_by_class_text"]


@pytest.mark.parametrize("command", ["gaps", "rollouts", "timeline", "advise", "replay"])
def test_every_command_has_help(command: str) -> None:
    assert "Usage" in gw(command, "--help")


def test_a_bad_time_is_a_usage_error(seeded: str) -> None:
    result = runner.invoke(app, ["gaps", "--db", seeded, "--since", "yesterday"])
    assert result.exit_code == 2 and "RFC 3339" in result.output
