"""`gapwatch poll elbv2` as a real process against moto's server (over real HTTP), on a store
that already holds the cluster's Service, Nodes, EndpointSlices and kube-proxy probes; then
`gapwatch gaps` and `gapwatch timeline` read the LB lane it recorded as measured."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.lb.awsworld import REGION, AwsWorld, make_world
from tests.lb.harness import gapwatch
from tests.replay import builders as b

CLUSTER = b.CLUSTER


def _now(obs: Observation, prev: datetime | None = None) -> Observation:
    return dataclasses.replace(obs, observed_at=datetime.now(UTC), previous_observed_at=prev)


def _node(name: str, instance: str, ip: str) -> Observation:
    obs = b.node(0, name)
    payload: dict[str, Any] = dict(obs.payload)
    payload["spec"] = {"providerID": f"aws:///{REGION}a/{instance}"}
    payload["status"] = dict(payload["status"], addresses=[{"type": "InternalIP", "address": ip}])
    return _now(dataclasses.replace(obs, payload=payload))


def _write(url: str, *observations: Observation) -> None:
    engine = make_engine(url)
    try:
        EventWriter(engine, derive=write_facts).write(list(observations))
    finally:
        engine.dispose()


def _wait_for(proc: subprocess.Popen[str], needle: str, lines: list[str]) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return
    raise AssertionError(f"no {needle!r} in poll output: {lines}")


def test_poll_feeds_a_measured_lb_lane_and_gaps_finds_the_window(
    store_url: str, moto_url: str
) -> None:
    world: AwsWorld = make_world(moto_url, instances=2)
    world.register(0, 1)
    _write(
        store_url,
        _now(b.service()),
        _node("node-0", world.instances[0], world.ips[0]),
        _node("node-1", world.instances[1], world.ips[1]),
        _now(b.eps(0, [("igw-a", "node-0", "ready"), ("igw-b", "node-1", "ready")])),
        _now(b.health(0, None, "node-0", 1)),
        _now(b.health(0, None, "node-1", 1)),
    )
    poll = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gapwatch.dashboard.cli",
            "poll",
            "elbv2",
            "--target-group",
            world.arn,
            "--region",
            REGION,
            "--endpoint-url",
            moto_url,
            "--interval",
            "0.3",
            "--duration",
            "30",
            "--cluster",
            CLUSTER,
            "--service",
            f"{b.NS}/{b.SVC}",
            "--db",
            store_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    out: list[str] = []
    try:
        _wait_for(poll, "ADDED", out)
        _wait_for(poll, "ADDED", out)
        # the pod on node-1 goes away: kube-proxy closes at once, the target is still healthy
        _write(
            store_url,
            _now(b.eps(0, [("igw-a", "node-0", "ready")])),
            _now(b.health(0, None, "node-1", 0)),
        )
        time.sleep(1.0)
        world.deregister(1)  # the CCM catches up
        _wait_for(poll, "DELETED", out)
    finally:
        poll.terminate()
        _, err = poll.communicate(timeout=60)
    assert poll.returncode == 0, err
    assert "mapping targets to 2 node(s)" in err and "observation(s) stored" in err
    assert any(world.instances[1] in line and "node=node-1" in line for line in out)
    _write(store_url, _now(b.health(0, None, "node-0", 1)), _now(b.health(0, None, "node-1", 0)))

    gaps = gapwatch("gaps", "--db", store_url, "--cluster", CLUSTER, "--json")
    assert gaps.returncode == 0, gaps.stderr
    windows = [w for w in json.loads(gaps.stdout) if w["node"] == "node-1"]
    assert [(w["class"], w["provenance"]) for w in windows] == [
        ("closed-before-deregistered", "measured")
    ]
    timeline = gapwatch(
        "timeline", "--db", store_url, "--cluster", CLUSTER, "--node", "node-1", "--json"
    )
    assert timeline.returncode == 0, timeline.stderr
    lb = [s for s in json.loads(timeline.stdout) if s["lane"] == "lb"]
    assert lb and {s["provenance"] for s in lb} == {"measured"}
    # (an UNKNOWN stretch lies between the poll that last saw it healthy and the first without it)
    assert [s["state"] for s in lb if s["state"] != "UNKNOWN"][-2:] == ["HEALTHY", "ABSENT"]


def test_replay_reads_a_store_with_an_unmapped_target(tmp_path: object) -> None:
    """An unmapped target (node null) sits beside mapped ones; replay's commands still run."""
    import dataclasses
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app
    from gapwatch.recorder.store import make_engine, upgrade
    from gapwatch.recorder.writer import EventWriter
    from tests.replay import builders as b

    assert isinstance(tmp_path, Path)
    url = f"sqlite:///{tmp_path / 'u.db'}"
    engine = make_engine(url)
    upgrade(engine)
    unmapped = dataclasses.replace(
        b.target(3, None, "n1", "healthy", "ADDED"),
        node=None,
        payload={
            "Target": {"Id": "10.9.9.9", "Port": 32999},
            "TargetHealth": {"State": "healthy"},
            "TargetGroupArn": "pool-1",
        },
    )
    EventWriter(engine, derive=write_facts).write(
        [
            b.service(0),
            b.node(0, "n1"),
            b.eps(1, [("p", "n1", "ready")]),
            b.health(2, None, "n1", 1),
            b.target(3, None, "n1", "healthy", "ADDED"),
            unmapped,
            b.health(10, 2, "n1", 1),
            b.target(10, 3, "n1", "healthy", "OBSERVED"),
        ]
    )
    engine.dispose()
    runner = CliRunner()
    gaps = runner.invoke(app, ["gaps", "--db", url, "--json"])
    assert gaps.exit_code == 0, gaps.output
    assert json.loads(gaps.output) == []
    timeline = runner.invoke(app, ["timeline", "--db", url, "--json"])
    assert timeline.exit_code == 0, timeline.output
    lb = [s for s in json.loads(timeline.output) if s["lane"] == "lb"]
    assert [(s["node"], s["state"], s["provenance"]) for s in lb] == [("n1", "HEALTHY", "measured")]


def _poll_briefly(store_url: str, moto_url: str, arn: str) -> subprocess.CompletedProcess[str]:
    return gapwatch(
        "poll", "elbv2", "--target-group", arn, "--region", REGION, "--endpoint-url", moto_url,
        "--interval", "0.3", "--duration", "1.5", "--cluster", CLUSTER,
        "--service", f"{b.NS}/{b.SVC}", "--db", store_url,
    )  # fmt: skip


def _world_with_nodes(store_url: str, moto_url: str) -> AwsWorld:
    """A target group of two registered instances, and their Nodes in the store."""
    world: AwsWorld = make_world(moto_url, instances=2)
    world.register(0, 1)
    _write(
        store_url,
        _node("node-0", world.instances[0], world.ips[0]),
        _node("node-1", world.instances[1], world.ips[1]),
    )
    return world


def test_a_poll_with_no_node_to_map_to_says_so_and_gaps_says_why(
    store_url: str, moto_url: str
) -> None:
    """A first poll into a store that holds no Node of its cluster (a new SRE's first try) stores
    every target with no node, which replay places on no lane. The poll only said `mapping
    targets to 0 node(s)`, and `gaps` then answered that no LB poller had recorded a lane."""
    world: AwsWorld = make_world(moto_url, instances=2)
    world.register(0, 1)
    poll = _poll_briefly(store_url, moto_url, world.arn)
    assert poll.returncode == 0, poll.stderr
    assert f"the store holds no Node of cluster {CLUSTER!r}" in poll.stderr
    assert poll.stdout.count("ADDED") == 3  # the group's attributes and both targets
    gaps = gapwatch("gaps", "--db", store_url)
    assert gaps.returncode == 0, gaps.stderr
    assert "2 target-health observation(s) were recorded with no node" in gaps.stdout
    assert "no Service has a recorded LB lane" not in gaps.stdout


def test_a_second_poll_resumes_from_the_first(store_url: str, moto_url: str) -> None:
    """`gapwatch poll` runs for --duration and is run again: the second run starts from the
    stored states, as a restarted recorder's poller does (docs/lb.md, lb/laststate.py). It built
    its poller without them, and each run stored every target ADDED again, with no previous
    look, seconds after the last run had stored it."""
    world = _world_with_nodes(store_url, moto_url)
    first = _poll_briefly(store_url, moto_url, world.arn)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("ADDED") == 3  # the group's attributes and both targets
    again = _poll_briefly(store_url, moto_url, world.arn)
    assert again.returncode == 0, again.stderr
    assert "ADDED" not in again.stdout
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            added = conn.execute(
                text("SELECT count(*) FROM events WHERE kind = 'TargetHealth' AND op = 'ADDED'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert added == 2


def test_a_poll_writes_its_log_in_the_words_of_its_other_lines(
    store_url: str, moto_url: str
) -> None:
    """`gapwatch poll`'s stderr read `elbv2: mapping targets to 2 node(s) ...`, then a JSON
    object (`{"source": "elbv2", ..., "event": "lb first look", ...}`), then `elbv2: 3 look(s)
    ...`: the recorder's log format, for a log collector, in a command run from a terminal."""
    world = _world_with_nodes(store_url, moto_url)
    poll = _poll_briefly(store_url, moto_url, world.arn)
    assert poll.returncode == 0, poll.stderr
    lines = poll.stderr.splitlines()
    assert lines and all(line.startswith("elbv2: ") for line in lines), lines
    assert any(line.startswith("elbv2: lb first look (") for line in lines), lines
    assert "targets=2" in poll.stderr
