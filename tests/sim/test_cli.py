"""`gapwatch simulate` and the streaming API: into the store on both backends, to NDJSON, and
clean one-line errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.ndjson import dumps, read_observations
from gapwatch.recorder.sim import Simulation, load_scenario, run, summary, to_ndjson, to_store
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_to_ndjson_with_truth(tmp_path: Path) -> None:
    out, truth = tmp_path / "obs.ndjson", tmp_path / "truth.ndjson"
    args = ["simulate", "--scenario", "seed-3node", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--truth", str(truth), "--set", "traffic.rps=10"])
    assert result.exit_code == 0, result.output
    parsed = [item for _raw, item in read_observations(str(out))]
    assert parsed and all(not isinstance(p, Exception) for p in parsed)
    lines = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    assert lines[0]["type"] == "params"
    assert lines[0]["seed"] == 3 and lines[0]["traffic"]["rps"] == 10
    assert {line["type"] for line in lines[1:]} >= {"window", "rollout"}


def test_simulate_into_the_store_is_idempotent(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "obs.ndjson"
    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "--out", str(out)]).exit_code == 0
    expected = len(out.read_text().splitlines())
    for run_no in range(2):
        result = runner.invoke(app, ["simulate", "--db", store_url])
        assert result.exit_code == 0, result.output
        # the summary says what the store did: the second run is all duplicates
        new, old = (expected, 0) if run_no == 0 else (0, expected)
        assert result.stderr.endswith(f"stored: {new} new, {old} already stored\n")
        engine = make_engine(store_url)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
            clusters = set(conn.execute(select(events.c.cluster).distinct()).scalars())
        engine.dispose()
        assert stored == expected
        assert clusters == {"sim"}


def test_a_config_file_and_a_preset_combine(tmp_path: Path) -> None:
    config = tmp_path / "lab.yaml"
    config.write_text("cluster: lab\ntraffic: {rps: 0}\n")
    out = tmp_path / "obs.ndjson"
    args = ["simulate", "-s", "aws-nlb", "--config", str(config), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert {obs["cluster"] for obs in lines} == {"lab"}
    first_node = next(obs for obs in lines if obs["kind"] == "Node")
    assert first_node["node"] == "ip-10-0-1-10.ec2.internal"


def test_a_bad_parameter_is_one_line_and_exit_1() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gapwatch.dashboard.cli",
            "simulate",
            "--out",
            "-",
            "--set",
            "kube_proxy.lag_s.p50=-1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: preset seed-3node: kube_proxy.lag_s.p50: must be >= 0"
    ]


def test_python_api_streams_to_the_store_and_to_ndjson(engine: Engine) -> None:
    scenario = load_scenario("aws-nlb")
    expected = run(scenario, 2).observations
    buffer = io.StringIO()
    counts = to_ndjson(Simulation(scenario, 2), buffer)
    assert buffer.getvalue() == "".join(dumps(o) + "\n" for o in expected)
    assert sum(counts.values()) == len(expected)
    sim = Simulation(scenario, 2)
    stored = to_store(sim, engine, derive=write_facts, batch_size=500)
    assert stored == counts
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(events)).scalar_one()
        kinds: dict[str, int] = dict(
            conn.execute(select(events.c.kind, func.count()).group_by(events.c.kind)).all()
        )
    assert rows == len(expected)
    assert kinds["TargetHealth"] == sum(1 for o in expected if o.kind == "TargetHealth")
    assert sim.truth is not None and "aws-nlb seed 2" in summary("aws-nlb", 2, stored, sim.truth)
