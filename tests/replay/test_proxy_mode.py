"""kube-proxy's mode as what a refused NodePort look means (replay.proxymode): under iptables
and nftables a node with no local endpoint DROPs (a timeout), so a refused look is rules that
forward to a local pod that is gone; under IPVS before kubernetes#97081 the node refused where
it had no local endpoint, so a refused look does not say the pod was gone. The mode is the
node's /configz `Mode` (the real kind answer's ProxyConfig, tests/replay/test_gate_per_node),
else the `proxy_mode` assumption, else iptables. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings, with_values
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.proxymode import proxy_mode, stated_mode
from tests.replay.builders import CLUSTER, facts_of, node
from tests.replay.test_detect import refused_look
from tests.replay.test_gate_per_node import configz

PGBD = "pod-gone-before-deregistered"


def _refused(extra: list[Observation], settings: DetectSettings = DEFAULTS) -> list[str]:
    """The classes of test_detect's refused look (`refused_look`) with `extra` observed."""
    obs = refused_look(extra)
    return [w.cls for w in detect(fold(FoldState(), facts_of(obs)), settings=settings)]


def test_the_mode_is_the_nodes_configuration_else_iptables() -> None:
    def state(*modes: str) -> FoldState:
        obs = [node(0, "n1"), *(configz(1 + i, "n1", {}, m) for i, m in enumerate(modes))]
        return fold(FoldState(), facts_of(obs))

    assert stated_mode(state("ipvs"), CLUSTER, "n1") == "ipvs"
    assert stated_mode(state(""), CLUSTER, "n1") == "iptables", "empty: Linux's default"
    assert stated_mode(state("iptables", "ipvs"), CLUSTER, "n1") is None, "restarted: unread"
    assert proxy_mode(state(), CLUSTER, "n1", DEFAULTS) == "iptables"
    ipvs = with_values({"proxy_mode": "ipvs"})
    assert proxy_mode(state(), CLUSTER, "n1", ipvs) == "ipvs"
    assert proxy_mode(state("nftables"), CLUSTER, "n1", ipvs) == "nftables", "stated wins"


def test_a_refused_look_under_iptables_is_the_gone_pods_rules() -> None:
    for extra in ([], [configz(0.5, "n1", {}, "iptables")], [configz(0.5, "n1", {}, "nftables")]):
        assert _refused(extra) == [PGBD]


def test_a_refused_look_under_ipvs_does_not_say_the_pod_was_gone() -> None:
    """An IPVS kube-proxy without kubernetes#97081 refuses where it has no local endpoint: the
    refused look is no proof of the dead pod's rules, stated by /configz or assumed."""
    assert _refused([configz(0.5, "n1", {}, "ipvs")]) != [PGBD]
    assert _refused([], with_values({"proxy_mode": "ipvs"})) != [PGBD]
