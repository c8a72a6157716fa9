"""`gapwatch gaps` shows the LB's failed requests that no node could be tied to (replay.untied):
a simulated cluster's store, then an ALB access log imported through the CLI whose targets name
an address no Node has; they appear as `unknown` node rows with their count and times, in the
JSON and in the table, and never inside a window's count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.sim import load_scenario

runner = CliRunner()
SCENARIO = load_scenario("seed-3node")
T0 = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)  # inside the seed scenario's run


def gw(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _line(seconds: float, target: str, elb: str = "502", answered: str = "-") -> str:
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f"http {when} app/gw/1 203.0.113.7:4000 {target} 0.000 -1 -1 {elb} {answered} 34 272 "
        f'"GET http://gw:80/ HTTP/1.1" "curl/8.0" - - arn:tg "Root=1" "-" "-" 0 {when} '
        f'"forward" "-" "-" "{target}" "-" "-" "-"'
    )


def test_gaps_lists_failures_at_an_unknown_node(store_url: str, tmp_path: Path) -> None:
    gw("simulate", "--scenario", "seed-3node", "--seed", "1", "--db", store_url)
    before = json.loads(gw("gaps", "--db", store_url, "--json"))
    assert before and all(w["class"] != "untied-failures" for w in before)
    port = SCENARIO.service.node_port
    log = tmp_path / "alb.log"
    log.write_text(
        "\n".join(
            [
                _line(1.5, f"10.99.0.7:{port}"),  # no Node has this address
                _line(2.25, f"10.99.0.7:{port}"),
                _line(3, f"10.99.0.7:{port}", elb="200", answered="200"),  # a success
                _line(4, f"10.99.0.8:{port}", elb="502", answered="502"),  # the app's own 502
                _line(5, "10.99.0.7:30999"),  # no Service has this NodePort either
            ]
        )
        + "\n"
    )
    gw("import", "elb-access-log", str(log), "--db", store_url, "--cluster", "sim")
    rows = json.loads(gw("gaps", "--db", store_url, "--json"))
    untied = sorted(
        (r for r in rows if r["class"] == "untied-failures"), key=lambda r: r["service"] or ""
    )
    assert [(r["service"], r["node"], r["failed_requests"]) for r in untied] == [
        (None, "unknown", 1),
        ("istio-system/istio-ingressgateway", "unknown", 2),
    ]
    assert untied[1]["failed_at"] == ["2026-01-01T00:01:01.500000Z", "2026-01-01T00:01:02.250000Z"]
    assert untied[1]["start"] == "2026-01-01T00:01:01.500000Z"
    assert untied[1]["end"] == "2026-01-01T00:01:02.250000Z"
    assert untied[0]["failed_at"] == ["2026-01-01T00:01:05.000000Z"]
    windows = [r for r in rows if r["class"] != "untied-failures"]
    assert len(windows) == len(before)
    assert all(w["failed_at"] is None for w in windows)
    # the window counts are unchanged: an untied line is never guessed onto a window
    assert [w["failed_requests"] for w in windows] == [w["failed_requests"] for w in before]

    table = gw("gaps", "--db", store_url)
    assert "2 failed requests at an unknown node (sim, istio-system/istio-ingressgateway)" in table
    assert "1 failed requests at an unknown node (sim, an unknown Service)" in table
    csv_text = gw("gaps", "--db", store_url, "--csv")
    assert "untied-failures" in csv_text and "failed_at" in csv_text.splitlines()[0]
    # --since/--until bound the untied requests' times too
    late = json.loads(gw("gaps", "--db", store_url, "--json", "--since", "2026-01-01T00:01:02Z"))
    counts = {r["service"]: r["failed_requests"] for r in late if r["class"] == "untied-failures"}
    assert counts == {"istio-system/istio-ingressgateway": 1, None: 1}
