"""Two `externalTrafficPolicy: Local` Services whose pods share nodes (recorder.sim.shared), and
replay on the merged log: each Service's windows are its own, never the other's.

Truth comes from each Service's run; replay sees one log with both Services, their own
healthCheckNodePorts, NodePorts and target groups on the same nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim.scenario import Event, Scenario
from gapwatch.recorder.sim.shared import SharedRun, another_service, run_shared
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.model import Window
from tests.replay.accuracy import replay_windows

EVENTS = [
    {"at_s": 60, "action": "rollout", "workload": "ingress"},
    {"at_s": 300, "action": "drain", "node": "NODE2"},
]


def _pair(preset: str = "seed-3node", **overrides: object) -> list[Scenario]:
    base = load_scenario(preset, {"events": EVENTS, **overrides})
    second = another_service(
        base,
        name="api-gateway",
        node_port=32100,
        health_check_node_port=31900,
        events=[Event(at_s=150.0, action="rollout")],
    )
    return [base, second]


def test_both_services_are_in_one_log_on_shared_nodes() -> None:
    run = run_shared(_pair(), seed=1)
    services = {(o.namespace, o.name) for o in run.observations if o.kind == "Service"}
    assert services == {("istio-system", "istio-ingressgateway"), ("istio-system", "api-gateway")}
    ports = {(o.name, o.payload["port"]) for o in run.observations if o.kind == "ProxyHealth"}
    assert ports == {("istio-ingressgateway", 31805), ("api-gateway", 31900)}
    owners: dict[str, set[str]] = {}
    for o in run.observations:
        if o.kind == "Pod" and o.node:
            owners.setdefault(o.node, set()).add(o.name.rsplit("-", 2)[0] if o.name else "")
    assert any({"istio-ingressgateway", "api-gateway"} <= names for names in owners.values())
    groups = {o.payload["TargetGroupArn"] for o in run.observations if o.kind == "TargetHealth"}
    assert len(groups) == 2
    # the cluster's nodes are written once, and both target groups name the same instances
    nodes = [o for o in run.observations if o.kind == "Node" and o.op == "ADDED"]
    assert sorted(o.node or "" for o in nodes) == ["NODE1", "NODE2", "NODE3"]
    instances = {
        o.payload["spec"]["providerID"].rsplit("/", 1)[1]
        for o in run.observations
        if o.kind == "Node"
    }
    targets = {o.payload["Target"]["Id"] for o in run.observations if o.kind == "TargetHealth"}
    assert targets <= instances


def _check(run: SharedRun, found: Sequence[Window]) -> tuple[int, list[str]]:
    """Per Service: every true window inside a window of that Service on its node, and no
    certain window of a Service without a true window of that Service on its node."""
    problems: list[str] = []
    total = 0
    for truth in run.truths:
        for t in truth.windows:
            total += 1
            start, end = to_micros(parse_time(t.start)), to_micros(parse_time(t.end))
            mine = [w for w in found if w.service.key == t.service and w.node == t.node]
            if not any(w.start_earliest_us <= start and end <= w.end_latest_us for w in mine):
                problems.append(f"missed {t.service} {t.node} {t.cls} {t.start}")
    every = [t for truth in run.truths for t in truth.windows]
    for w in found:
        if not w.certain:
            continue
        true = [
            t
            for t in every
            if t.service == w.service.key
            and t.node == w.node
            and to_micros(parse_time(t.start)) < w.end_latest_us
            and to_micros(parse_time(t.end)) > w.start_earliest_us
        ]
        if not true:
            problems.append(f"false {w.service.key} {w.node} {w.cls} {w.start_us}")
    return total, problems


@pytest.mark.parametrize("preset", ["seed-3node", "aws-nlb", "tencent-clb-grace"])
def test_replay_keeps_each_services_windows_apart(preset: str) -> None:
    overrides: dict[str, object] = {"traffic.rps": 0}
    if preset == "aws-nlb":
        overrides["events"] = [
            {"at_s": 60, "action": "rollout", "workload": "ingress"},
            {"at_s": 500, "action": "drain", "node": "ip-10-0-1-10.ec2.internal"},
        ]
        base = load_scenario(preset, overrides)
        scenarios = [
            base,
            another_service(
                base,
                name="api-gateway",
                node_port=32100,
                health_check_node_port=31900,
                events=[Event(at_s=150.0, action="rollout")],
            ),
        ]
    else:
        scenarios = _pair(preset, **overrides)
    total = 0
    for seed in (1, 2, 3):
        run = run_shared(scenarios, seed=seed)
        found = replay_windows(run.observations)
        assert {w.service.name for w in found} <= {"istio-ingressgateway", "api-gateway"}
        count, problems = _check(run, found)
        assert problems == []
        total += count
    assert total >= 6


def test_node_events_that_depend_on_one_service_are_refused() -> None:
    base = load_scenario("seed-3node", {"events": [{"at_s": 60, "action": "scale_down",
                                                    "node": "NODE2"}]})  # fmt: skip
    second = another_service(base, name="b", node_port=32100, health_check_node_port=31900)
    with pytest.raises(ConfigError, match="scale_down"):
        run_shared([base, second])
    random_drain = load_scenario("seed-3node", {"events": [{"at_s": 60, "action": "drain",
                                                            "node": "@random"}]})  # fmt: skip
    other = another_service(random_drain, name="b", node_port=32100, health_check_node_port=31900)
    with pytest.raises(ConfigError, match="not deterministic"):
        run_shared([random_drain, other])


def test_services_must_not_share_ports_or_names() -> None:
    base = load_scenario("seed-3node", {})
    clash = another_service(base, name="b", node_port=32999, health_check_node_port=31900)
    with pytest.raises(ConfigError, match="node ports"):
        run_shared([base, clash])
    with pytest.raises(ConfigError, match="names must differ"):
        run_shared([base, base])


def _exact(w: Window) -> tuple[object, ...]:
    return (w.node, w.cls, w.start_us, w.end_us, w.start_earliest_us, w.end_latest_us, w.certain)


def test_random_shared_clusters_replay_each_service_as_if_it_were_alone() -> None:
    """Randomized clusters (recorder.sim.generate) with a second Service on the same nodes: the
    merged log's windows of each Service are those replay finds from that Service's run alone.
    Only node-not-ready windows may move, by the Node objects' watch delay (the merged log has
    the first run's Node objects)."""
    from gapwatch.recorder.sim import run
    from gapwatch.recorder.sim.shared import random_pair

    compared = 0
    for seed in range(1, 13):
        scenarios = random_pair(seed)
        merged = replay_windows(run_shared(scenarios, seed=seed).observations)
        for k, scenario in enumerate(scenarios):
            alone = replay_windows(run(scenario, seed + k).observations)
            mine = [w for w in merged if w.service.name == scenario.service.name]
            node_level = "node-not-ready"
            assert sorted(_exact(w) for w in mine if w.cls != node_level) == sorted(
                _exact(w) for w in alone if w.cls != node_level
            )
            moved = sorted((w.node, w.start_us) for w in mine if w.cls == node_level)
            kept = sorted((w.node, w.start_us) for w in alone if w.cls == node_level)
            assert [n for n, _ in moved] == [n for n, _ in kept]
            assert all(abs(a - b) < 1_000_000 for (_, a), (_, b) in zip(moved, kept, strict=True))
            compared += len(alone)
    assert compared > 20


def test_simulate_second_service_into_a_store_then_gaps_per_service(tmp_path: Path) -> None:
    """`gapwatch simulate --second-service` end to end: the store holds both Services, `gaps`
    reports windows of each, and the truth file holds both Services' windows."""
    import json

    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    db = f"sqlite:///{tmp_path / 'shared.db'}"
    truth = tmp_path / "truth.ndjson"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", db]).exit_code == 0
    args = ["simulate", "-s", "seed-3node", "--second-service", "api-gateway", "--db", db]
    result = runner.invoke(app, [*args, "--truth", str(truth), "--set", "traffic.rps=0"])
    assert result.exit_code == 0, result.output
    true = [json.loads(line) for line in truth.read_text().splitlines()]
    true_services = {t["service"] for t in true if t["type"] == "window"}
    assert true_services == {"istio-system/istio-ingressgateway", "istio-system/api-gateway"}
    gaps = runner.invoke(app, ["gaps", "--db", db, "--json"])
    assert gaps.exit_code == 0, gaps.output
    found = {w["service"] for w in json.loads(gaps.stdout)}
    assert found == true_services


def test_simulate_second_service_refuses_random_node_events() -> None:
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    result = CliRunner().invoke(
        app, ["simulate", "-s", "large", "--second-service", "b", "--out", "-"]
    )
    assert result.exit_code != 0
    # the CLI's main() prints a ConfigError as one line; the app itself raises it
    assert isinstance(result.exception, ConfigError)
    assert "drain on @random: not deterministic" in str(result.exception)
