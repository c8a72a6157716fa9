"""The node controller's grace for a silent node follows the control plane's release
(recorder.sim.nodegrace): `--node-monitor-grace-period` defaults to 40 s before 1.32 and 50 s from
1.32 (kubernetes/kubernetes#126287, CHANGELOG-1.32). Before session 35 a scenario that did not
set it got 40 s whatever its version, and the randomized generator drew 40, 40 or 50 s whatever
its version."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.recorder.sim import from_dict, load_scenario, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.sim.nodegrace import default_grace_s
from gapwatch.recorder.timefmt import parse_time


def _ready_unknown_after_s(version: str, **overrides: Any) -> float:
    """Seconds from a node going down (at 100 s) to the Node's Ready condition turning Unknown,
    as the Node object the run emits states it."""
    base = load_scenario("seed-3node")
    node = base.node_names()[1]
    scenario = load_scenario(
        "seed-3node",
        {
            "events": [{"at_s": 100, "action": "node_down", "node": node}],
            "nodes.kubelet_version": version,
            "nodes.kube_proxy_version": version,
            "kube_proxy.proxy_terminating_endpoints": True,
            **overrides,
        },
    )
    start = parse_time(scenario.start)
    for o in run(scenario, 1).observations:
        if o.kind != "Node" or o.name != node:
            continue
        (ready,) = [c for c in o.payload["status"]["conditions"] if c["type"] == "Ready"]
        if ready["status"] == "Unknown":
            at = parse_time(ready["lastTransitionTime"])
            return (at - start).total_seconds() - 100.0
    raise AssertionError("the node never turned Unknown")


@pytest.mark.parametrize(("version", "grace"), [("v1.31.2", 40.0), ("v1.32.9", 50.0)])
def test_a_silent_node_turns_unknown_after_its_releases_default_grace(
    version: str, grace: float
) -> None:
    assert _ready_unknown_after_s(version) == grace


def test_a_stated_grace_wins_over_the_default() -> None:
    assert _ready_unknown_after_s("v1.32.9", **{"nodes.not_ready_after_s": 40}) == 40.0


def test_the_default_changes_in_1_32() -> None:
    assert [default_grace_s(f"v1.{m}.0") for m in (24, 31, 32, 35)] == [40.0, 40.0, 50.0, 50.0]
    assert default_grace_s("weird") == 40.0


def test_the_generator_draws_the_grace_of_the_drawn_version() -> None:
    for seed in range(1, 301):
        data = random_scenario(seed)
        nodes = data["nodes"]
        assert nodes["not_ready_after_s"] == default_grace_s(nodes["kubelet_version"]), seed
        from_dict(data, f"random {seed}")
