"""kube-proxy's configuration per node and its data plane in the simulator
(recorder.sim.proxyconf): REJECT where the Service has no usable endpoint anywhere, IPVS with
and without kubernetes#97081, the gate set apart on some nodes or rolled out by restarting
kube-proxy, and what the prober's /configz and /metrics read of each."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import from_dict, load_scenario, run
from gapwatch.recorder.sim.generate import random_scenario, with_mixed_proxy
from gapwatch.recorder.timefmt import parse_time

START = parse_time("2026-01-01T00:00:00Z")
#: a node of the aws-nlb preset (kube-proxy v1.29)
NLB_NODE = "ip-10-0-1-10.ec2.internal"


def _observations(overrides: dict[str, Any]) -> list[Observation]:
    return run(load_scenario("seed-3node", overrides), seed=1).observations


def _nodeport(obs: list[Observation], node: str) -> list[tuple[float, str]]:
    return [
        ((o.observed_at - START).total_seconds(), o.payload["result"])
        for o in obs
        if o.kind == "NodePortProbe" and o.node == node
    ]


@pytest.mark.parametrize(("fallback", "expected"), [(False, "refused"), (True, "timeout")])
def test_ipvs_refuses_where_no_endpoint_is_local_unless_it_falls_back(
    fallback: bool, expected: str
) -> None:
    ipvs = {"kube_proxy.mode": "ipvs", "kube_proxy.ipvs_local_fallback": fallback}
    obs = _observations({**ipvs, "observe.kube_proxy_configz": True})
    assert _nodeport(obs, "NODE3")[0][1] == expected
    assert _nodeport(obs, "NODE1")[0][1] == "connected"
    modes = {o.payload["mode"] for o in obs if o.kind == "ProxyConfig"}
    assert modes == {"ipvs"}


def test_a_configuration_rolled_out_restarts_kube_proxy_and_is_read_at_the_next_read() -> None:
    """NODE1's kube-proxy restarts at 100 s with the gate on (1.25: named, against the
    default); /configz is read again every 120 s from the first read: the change is stored at
    the first read after the restart, with the read before it as its previous look."""
    obs = _observations(
        {
            "kube_proxy.configs": [
                {"nodes": ["NODE1"], "proxy_terminating_endpoints": True, "at_s": 100}
            ],
            "observe.kube_proxy_configz": True,
            "observe.kube_proxy_configz_interval_s": 120,
        }
    )
    confs = [o for o in obs if o.kind == "ProxyConfig"]
    node1 = [o for o in confs if o.node == "NODE1"]
    assert [o.payload["look"] for o in node1] == ["first", "change"]
    assert [o.payload["feature_gates"] for o in node1] == [{}, {"ProxyTerminatingEndpoints": True}]
    first, change = node1
    first_read = (first.observed_at - START).total_seconds()
    assert change.previous_observed_at is not None
    previous = (change.previous_observed_at - START).total_seconds()
    assert previous == pytest.approx(first_read, abs=0.02)
    assert (change.observed_at - START).total_seconds() == pytest.approx(first_read + 120, abs=0.02)
    assert all(o.payload["look"] == "first" for o in confs if o.node != "NODE1")


def test_a_node_pool_runs_its_own_gate_from_the_start() -> None:
    """The gate on NODE1 alone, from the start: its metrics' feature-gate sample says so
    (1.26, where the metric exists), the others' do not, and its /configz names it."""
    obs = _observations(
        {
            "nodes.kubelet_version": "v1.26.15",
            "nodes.kube_proxy_version": "v1.26.15",
            "kube_proxy.proxy_terminating_endpoints": True,
            "kube_proxy.configs": [{"nodes": ["NODE1"], "proxy_terminating_endpoints": False}],
            "observe.kube_proxy_configz": True,
            "observe.kube_proxy_metrics": True,
        }
    )
    key = 'kubernetes_feature_enabled{name="ProxyTerminatingEndpoints",stage="BETA"}'
    gates = {(o.node, o.payload["metrics"][key]) for o in obs if o.kind == "ProxyMetrics"}
    assert gates == {("NODE1", 0.0), ("NODE2", 1.0), ("NODE3", 1.0)}
    named = {o.node: o.payload["feature_gates"] for o in obs if o.kind == "ProxyConfig"}
    assert named == {"NODE1": {"ProxyTerminatingEndpoints": False}, "NODE2": {}, "NODE3": {}}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"nodes": ["NODE9"], "proxy_terminating_endpoints": True}, "nodes[0]"),
        ({"nodes": [], "proxy_terminating_endpoints": True}, "nodes"),
        ({"nodes": ["NODE1"], "proxy_terminating_endpoints": True, "at_s": -1}, "at_s"),
    ],
)
def test_a_wrong_configuration_is_refused(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"kube_proxy.configs[0].{key}:")):
        load_scenario("seed-3node", {"kube_proxy.configs": [config]})


def test_the_gate_cannot_be_turned_off_from_1_28() -> None:
    with pytest.raises(ConfigError, match="GA"):
        load_scenario(
            "aws-nlb",
            {"kube_proxy.configs": [{"nodes": [NLB_NODE], "proxy_terminating_endpoints": False}]},
        )


def test_mixed_draws_leave_every_other_draw_and_validate() -> None:
    drawn = {"ipvs": 0, "pool": 0, "rollout": 0}
    for seed in range(1, 201):
        base, mixed = random_scenario(seed), with_mixed_proxy(random_scenario(seed), seed)
        proxy = mixed.pop("kube_proxy")
        base_proxy = base.pop("kube_proxy")
        assert mixed == base
        assert {k: v for k, v in proxy.items() if k not in ("mode", "ipvs_local_fallback",
                "configs")} == base_proxy  # fmt: skip
        assert with_mixed_proxy(random_scenario(seed), seed)["kube_proxy"] == proxy
        from_dict({**mixed, "kube_proxy": proxy}, f"seed {seed}")
        drawn["ipvs"] += proxy.get("mode") == "ipvs"
        for config in proxy.get("configs", []):
            drawn["rollout" if "at_s" in config else "pool"] += 1
    assert all(n > 5 for n in drawn.values()), drawn
