"""The assumptions module: every number detection assumes is named, sourced and settable; the
projections record the ones they were built with, and a refresh keeps them."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.replay.assumptions import (
    ASSUMPTIONS,
    DEFAULTS,
    DetectSettings,
    from_state,
    parse_assumptions,
    to_state,
)

runner = CliRunner()


def gw(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_setting_is_a_documented_assumption() -> None:
    documented = {a.name for a in ASSUMPTIONS}
    assert documented == {f.name for f in fields(DetectSettings)}
    for a in ASSUMPTIONS:
        assert a.source and a.unit and a.meaning, a.name


def test_defaults_are_the_published_figures_not_the_simulators() -> None:
    # AWS LB Controller: interval 10 s, thresholds 3/3; kube-proxy reports itself stuck past
    # 2x its 30 s sync period; AWS quotes up to 5 min for (de)registration
    assert (DEFAULTS.hc_interval_s, DEFAULTS.hc_healthy_threshold) == (10.0, 3)
    assert DEFAULTS.hc_unhealthy_threshold == 3
    assert DEFAULTS.proxy_lag_max_s == 60.0 and DEFAULTS.ccm_lag_max_s == 300.0


def test_parse_and_record_round_trip() -> None:
    chosen = parse_assumptions(
        ["proxy_lag_max_s=7.5", "hc_healthy_threshold=2", "ccm_mode=node"],
    )
    chosen = parse_assumptions(["proxy_terminating_endpoints=false"], chosen)
    assert chosen.proxy_lag_max_s == 7.5 and chosen.hc_healthy_threshold == 2
    assert chosen.ccm_mode == "node" and chosen.proxy_terminating_endpoints is False
    assert from_state(to_state(chosen)) == chosen
    assert from_state({}) == DEFAULTS


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("proxy_lag=3", "unknown assumption"),
        ("proxy_lag_max_s=soon", "expected a number"),
        ("proxy_lag_max_s=-1", "from 0 to 1,000,000"),
        # 1e308 passed and overflowed the projections' micro-units: a traceback in rebuild
        ("proxy_lag_max_s=1e308", "must be a number from 0 to 1,000,000, got '1e308'"),
        ("proxy_lag_max_s=1000001", "from 0 to 1,000,000"),
        ("proxy_lag_max_s=nan", "from 0 to 1,000,000"),
        ("lag_margin=inf", "from 0 to 1,000,000"),
        ("hc_healthy_threshold=2.5", "whole number"),
        ("ccm_mode=cloud", "endpoint, node or auto"),
        ("proxy_lag_max_s", "NAME=VALUE"),
    ],
)
def test_bad_assumptions_are_clear_errors(pair: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_assumptions([pair])


def test_cli_rebuilds_under_assumptions_and_refresh_keeps_them(
    store_url: str, tmp_path: Path
) -> None:
    gw("simulate", "--scenario", "seed-3node", "--seed", "1", "--db", store_url)
    shown = json.loads(gw("assumptions", "--db", store_url, "--json"))
    by_name = {a["name"]: a for a in shown["assumptions"]}
    assert by_name["proxy_lag_max_s"]["value"] == 60.0
    assert "Load Balancer Controller" in by_name["hc_interval_s"]["source"]
    config = tmp_path / "gapwatch.yaml"
    config.write_text("assumptions:\n  settle_s: 90\n  watch_skew_s: 1.5\n")
    gw("assumptions", "--db", store_url, "--file", str(config), "--set", "list_s=2")
    gw("simulate", "--scenario", "seed-3node", "--seed", "2", "--db", store_url)
    gw("gaps", "--db", store_url, "--json")  # refreshes the projections
    after = {a["name"]: a["value"] for a in json.loads(gw("assumptions", "--db", store_url,
                                                             "--json"))["assumptions"]}  # fmt: skip
    assert (after["settle_s"], after["watch_skew_s"], after["list_s"]) == (90.0, 1.5, 2.0)
    bad = runner.invoke(app, ["assumptions", "--db", store_url, "--set", "nope=1"])
    assert bad.exit_code == 2 and "unknown assumption" in bad.output


def test_semantics_doc_lists_every_assumption_with_its_default() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "semantics.md").read_text("utf-8")
    for a in ASSUMPTIONS:
        default = getattr(DEFAULTS, a.name)
        shown = "auto" if default is None else f"{default:g}"
        assert f"| `{a.name}` | {shown} |" in doc, a.name
