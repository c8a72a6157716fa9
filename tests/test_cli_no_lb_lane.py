"""`gaps` with nothing to look at says so: a store of Kubernetes objects alone (no LB poller,
CloudTrail, push API or service-controller Event) once answered "no gap windows: in this range the
load balancer never routed to a node that did not serve", a claim about an LB nothing recorded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import build_demo_store
from gapwatch.replay.cli_tables import NO_LB_LANE
from tests.importers.helpers import FIXTURES


def gaps(*args: str) -> str:
    result = CliRunner().invoke(app, ["gaps", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_no_lb_lane_is_not_reported_as_no_gaps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k8s.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    objects = [
        str(FIXTURES / f)
        for f in (
            "kubelb-kind-services-lb-local-healthchecknodeport.json",
            "aws-kops-nodelist-2nodes.json",
        )
    ]
    done = runner.invoke(app, ["import", "k8s-watch", "--db", url, *objects])
    assert done.exit_code == 0, done.output
    assert gaps("--db", url).strip() == NO_LB_LANE


def test_a_quiet_range_with_lb_lanes_still_says_no_gaps(tmp_path: Path) -> None:
    store = build_demo_store(tmp_path / "demo.db")
    out = gaps("--db", store.url, "--cluster", "seed", "--since", "2026-01-01T00:05:00Z")
    assert out.startswith("no gap windows: in this range the load balancer never routed")
