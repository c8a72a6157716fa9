"""The ProxyTerminatingEndpoints gate read per node (replay.proxy.gate_stated with a node,
replay.gate_reading): each kube-proxy runs its own configuration, so a rollout of a new one (the
DaemonSet's pods restarted node by node) or a node pool on another version leaves nodes whose
/configz answers differ. Each node's own statements decide its gate; a node that stated nothing
falls back to the probes' evidence and its version's default. The ProxyConfig payloads are the
real kind cluster's /configz (tests/fixtures/kubeproxy/raesene-kubeproxy-kind-configz.json) with
its FeatureGates set, kept as the recorder keeps it (parse_configz); times in seconds."""

from __future__ import annotations

import json
from pathlib import Path

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.configz import GROUP, parse_configz
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.gate_reading import gate_reading
from gapwatch.replay.proxy import gate_stated, pte_by_default, pte_enabled, pte_possible
from tests.replay.builders import CLUSTER, at, facts_of, node
from tests.replay.test_dead_left_listed import PGBD, _fails_open

PTE = "ProxyTerminatingEndpoints"
SAMPLE = (
    Path(__file__).parents[1] / "fixtures" / "kubeproxy" / "raesene-kubeproxy-kind-configz.json"
)


def configz(
    t: float, node_name: str, gates: dict[str, bool], mode: str = "iptables"
) -> Observation:
    """The node agent's ProxyConfig for the real answer with `gates` as its FeatureGates and
    `mode` as its Mode (the answer's own: iptables)."""
    doc = json.loads(SAMPLE.read_bytes())
    doc[GROUP]["FeatureGates"] = gates
    doc[GROUP]["Mode"] = mode
    kept = parse_configz(json.dumps(doc, separators=(",", ":")).encode())
    payload = {"port": 10249, "address": "127.0.0.1", "latency_ms": 2.0, "status": 200,
               "error": None, **kept, "look": "first"}  # fmt: skip
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyConfig", "OBSERVED", payload,
                       node=node_name)  # fmt: skip


def _state(version: str, read: dict[str, dict[str, bool]]) -> FoldState:
    obs = [node(0, name, version=version) for name in ("n1", "n2")]
    obs += [configz(1, name, gates) for name, gates in read.items()]
    return fold(FoldState(), facts_of(obs))


def test_a_rollout_turning_the_gate_off_reads_each_node_its_own() -> None:
    """1.27, a configuration turning the gate off rolled out to n1, n2 not yet restarted (the
    default, on): n1 off, n2 on, each measured; the cluster as a whole states nothing."""
    state = _state("v1.27.8", {"n1": {PTE: False}, "n2": {}})
    assert gate_stated(state, CLUSTER) is None
    assert gate_stated(state, CLUSTER, "n1") is False
    assert gate_stated(state, CLUSTER, "n2") is True
    assert not pte_enabled(state, CLUSTER, "n1", DEFAULTS)
    assert pte_enabled(state, CLUSTER, "n2", DEFAULTS)
    assert not pte_by_default(state, CLUSTER, "n1", DEFAULTS), "measured, not a default"


def test_a_node_with_no_reading_keeps_its_versions_rules() -> None:
    """1.25, n1's configuration read (nothing enabled the alpha gate: off), n2's not: n2 may
    have been started with the gate enabled, so its doubt stays (pte_possible), where the
    cluster's one reading used to settle it for every node."""
    state = _state("v1.25.16", {"n1": {}})
    assert not pte_possible(state, CLUSTER, "n1", DEFAULTS)
    assert pte_possible(state, CLUSTER, "n2", DEFAULTS)
    on = _state("v1.27.8", {"n1": {PTE: False}})
    assert pte_enabled(on, CLUSTER, "n2", DEFAULTS), "1.27's default where nothing was read"
    assert pte_by_default(on, CLUSTER, "n2", DEFAULTS)


def test_a_window_reads_its_own_nodes_configuration() -> None:
    """test_dead_left_listed's shape (1.27; the window on n1): with the gate turned off on n1
    the dead pod's rules are named beside kube-proxy's close by nobody, whatever n2's
    configuration said; n1 on its default names them, n2 turned off or not."""
    for n1, n2, also in (
        ({PTE: False}, {}, ()),
        ({PTE: False}, None, ()),
        ({}, {PTE: False}, (PGBD,)),
    ):
        read = [configz(1.5, "n1", n1)] + ([configz(1.5, "n2", n2)] if n2 is not None else [])
        assert _fails_open(41, "v1.27.16", extra=read).also == also, (n1, n2)


def test_the_output_says_where_the_gate_was_measured() -> None:
    rollout = gate_reading(_state("v1.27.8", {"n1": {PTE: False}, "n2": {}}), CLUSTER, DEFAULTS)
    assert rollout.measured and rollout.value is None
    assert rollout.describe() == (
        "measured (2 samples, kube-proxy's own statement: 2 /configz answers; "
        "per node: on on 1 node (n2); off on 1 node (n1))"
    )
    half = gate_reading(_state("v1.25.16", {"n1": {PTE: True}}), CLUSTER, DEFAULTS)
    assert half.value is None
    assert half.describe().endswith(
        "per node: on on 1 node (n1); not read, by version on 1 node (n2))"
    )
    every = gate_reading(_state("v1.25.16", {"n1": {}, "n2": {}}), CLUSTER, DEFAULTS)
    assert every.value == 0.0
    assert (
        every.describe() == "measured (2 samples, kube-proxy's own statement: 2 /configz answers)"
    )
