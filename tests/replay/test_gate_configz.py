"""kube-proxy's configuration (/configz, a `ProxyConfig` observation) as the
ProxyTerminatingEndpoints gate's measured setting (replay.gateconf, replay.proxy.gate_stated):
the gate a configuration names, else AllAlpha / AllBeta for its stage, else the version's
default, which the configuration then measures; nothing from 1.28 (GA) or before 1.22 (no gate).
Literal observations: Node objects as the watch returns them, the prober's ProxyConfig
payloads; times in seconds."""

from __future__ import annotations

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.gate_reading import ASSUMED, gate_reading
from gapwatch.replay.proxy import gate_stated, pte_by_default, pte_enabled, pte_possible
from tests.replay.builders import CLUSTER, facts_of, node, proxy_config, proxy_metrics
from tests.replay.test_dead_left_listed import PGBD, _fails_open

PTE = "ProxyTerminatingEndpoints"


def _state(version: str | None, *gates: dict[str, bool]) -> FoldState:
    obs = [node(0, "n1", version=version)] if version else []
    obs += [proxy_config(1 + i, "n1", g) for i, g in enumerate(gates)]
    return fold(FoldState(), facts_of(obs))


def test_the_configuration_states_the_gate_with_the_nodes_version() -> None:
    cases = [
        ("v1.25.16", {}, False),  # alpha: off unless enabled, and nothing enabled it
        ("v1.25.16", {PTE: True}, True),
        ("v1.24.17", {"AllAlpha": True}, True),
        ("v1.24.17", {"AllAlpha": True, PTE: False}, False),  # the named gate wins
        ("v1.24.17", {"AllBeta": True}, False),  # the gate was alpha then
        ("v1.27.8", {}, True),  # beta: on by default, and nothing turned it off
        ("v1.26.15", {PTE: False}, False),
        ("v1.27.8", {"AllBeta": False}, False),
        ("v1.29.3", {}, None),  # GA: no gate; the version decides (always on)
        ("v1.21.14", {}, None),  # before the gate existed
        (None, {}, None),  # version unknown: only a named gate says anything
        (None, {PTE: True}, True),
    ]
    for version, gates, expected in cases:
        assert gate_stated(_state(version, gates), CLUSTER) is expected, (version, gates)


def test_configurations_that_disagree_state_nothing() -> None:
    # kube-proxy restarted with the gate turned off: two stored configurations, no one reading
    assert gate_stated(_state("v1.27.8", {}, {PTE: False}), CLUSTER) is None


def test_the_gate_measured_replaces_the_versions_default() -> None:
    """On 1.22-1.25 the gate is off unless enabled (pte_enabled off, pte_possible on: the
    doubt); the configuration settles both. On 1.26-1.27 the default no longer counts as a
    default (pte_by_default) once the configuration measured it."""
    enabled = _state("v1.25.16", {PTE: True})
    assert pte_enabled(enabled, CLUSTER, "n1", DEFAULTS)
    plain = _state("v1.25.16", {})
    assert not pte_enabled(plain, CLUSTER, "n1", DEFAULTS)
    assert not pte_possible(plain, CLUSTER, "n1", DEFAULTS), "measured off: no doubt left"
    unread = _state("v1.25.16")
    assert pte_possible(unread, CLUSTER, "n1", DEFAULTS), "without /configz the doubt stays"
    assert pte_by_default(_state("v1.27.8"), CLUSTER, "n1", DEFAULTS)
    assert not pte_by_default(_state("v1.27.8", {}), CLUSTER, "n1", DEFAULTS)


def test_a_window_reads_the_gate_the_configuration_set() -> None:
    """test_dead_left_listed's shape (1.27): the dead pod's rules are named beside kube-proxy's
    close under the gate's default; a configuration that turned the gate off, by name or by
    AllBeta, names nothing, as the gate stated off in the metrics does; one that names nothing
    keeps the default's reading."""
    for gates, also in (({PTE: False}, ()), ({"AllBeta": False}, ()), ({}, (PGBD,))):
        read = [proxy_config(1.5, n, gates) for n in ("n1", "n2")]
        assert _fails_open(41, "v1.27.16", extra=read).also == also, gates


def test_the_output_says_the_gate_was_measured() -> None:
    measured = gate_reading(_state("v1.25.16", {PTE: True}), CLUSTER, DEFAULTS)
    assert measured.measured and measured.value == 1.0
    assert measured.describe() == (
        "measured (1 sample, kube-proxy's own statement: 1 /configz answer)"
    )
    both = fold(
        _state("v1.27.8", {}),
        facts_of([proxy_metrics(5, "n1", True), proxy_metrics(6, "n1", True)]),
    )
    assert gate_reading(both, CLUSTER, DEFAULTS).describe() == (
        "measured (3 samples, kube-proxy's own statement: 1 /configz answer, "
        "2 feature-gate metric scrapes)"
    )
    assumed = gate_reading(_state("v1.27.8"), CLUSTER, DEFAULTS)
    assert not assumed.measured and assumed.describe() == f"assumed (default 1, {ASSUMED})"
    older = gate_reading(_state("v1.25.16"), CLUSTER, DEFAULTS)
    assert older.describe() == f"assumed (default 0, {ASSUMED})"
    off = DetectSettings(proxy_terminating_endpoints=False)
    chosen = gate_reading(_state("v1.27.8", {}), CLUSTER, off)
    assert chosen.value == 0.0 and not chosen.measured
