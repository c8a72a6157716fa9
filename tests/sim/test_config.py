"""Scenario files and overrides: every parameter settable, every mistake named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sim import PRESETS, load_scenario
from gapwatch.recorder.sim.core import Lag


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kube_proxy:\n  lag_s:\n    p50: -1\n", "kube_proxy.lag_s.p50: must be >= 0"),
        ("kube_proxy:\n  lag_s: {p50: 2, p90: 1}\n", "kube_proxy.lag_s.p90: must be >= p50"),
        ("ccm:\n  modee: node-driven\n", "ccm.modee: unknown key (expected one of: mode,"),
        ("ccm:\n  mode: sideways\n", "ccm.mode: 'sideways' is not one of: endpoint-driven, node"),
        ("ingress:\n  replicas: two\n", "ingress.replicas: expected an integer, got 'two'"),
        ("kube_proxy:\n  proxy_terminating_endpoints: 1\n", "expected true or false, got 1"),
        ("ingress:\n  place_on: [NODE9]\n", "ingress.place_on[0]: unknown node 'NODE9'"),
        ("events:\n  - {at_s: 5, action: drain}\n", "events[0].node: required for drain"),
        ("events:\n  - {at_s: 5, action: explode}\n", "events[0].action: 'explode' is not one"),
        ("lb:\n  health_check: {healthy_threshold: 0}\n", "healthy_threshold: must be in 1-10"),
        ("preset: nope\n", "preset: unknown preset 'nope'"),
        ("start: yesterday\n", "start: 'yesterday' is not an RFC 3339 timestamp"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "preset: seed-3node\n" + text if "preset" not in text else text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "preset: seed-3node\nccm:\n  mode: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml:\d+: not valid YAML"):
        load_scenario(path)


def test_unknown_preset_or_file_lists_the_presets() -> None:
    with pytest.raises(ConfigError, match=r"no such preset or file .*seed-3node"):
        load_scenario("seed-4node")


def test_a_file_starts_from_a_preset_and_overrides_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "preset: mitigated\nkube_proxy:\n  lag_s: 3\ntraffic: {rps: 5}\n",
    )
    scenario = load_scenario(path, {"traffic.rps": "7.5", "ccm.register_delay_s": 4})
    assert scenario.kube_proxy.lag_s == Lag(3.0, 3.0, 3.0)
    assert scenario.kube_proxy.proxy_terminating_endpoints is True  # from the preset
    assert scenario.ingress.pod.prestop_s == 20  # from the preset
    assert scenario.traffic.rps == 7.5
    assert scenario.ccm.register_delay_s == 4.0
    assert scenario.nodes.names == ("NODE1", "NODE2", "NODE3")  # from seed-3node, two levels up


def test_overrides_reach_every_level() -> None:
    scenario = load_scenario(
        "seed-3node",
        {
            "kube_proxy.proxy_terminating_endpoints": "true",
            "lb.health_check.interval_s": "5",
            "ingress.pod.prestop_s": "12.5",
            "cluster": "lab",
        },
    )
    assert scenario.kube_proxy.proxy_terminating_endpoints is True
    assert scenario.lb.health_check.interval_s == 5.0
    assert scenario.ingress.pod.prestop_s == 12.5
    assert scenario.cluster == "lab"
    with pytest.raises(
        ConfigError, match=r"preset seed-3node: ingress\.pod\.prestop_s: must be >= 0"
    ):
        load_scenario("seed-3node", {"ingress.pod.prestop_s": "-1"})
    with pytest.raises(ConfigError, match=r"preset seed-3node: kube_proxy\.lagg: unknown key"):
        load_scenario("seed-3node", {"kube_proxy.lagg": "1"})


def test_every_preset_loads() -> None:
    for name in PRESETS:
        assert load_scenario(name).name == name
