"""A node's /configz answer speaks for the kube-proxy process that gave it (replay.confspan):
kube-proxy reads its configuration at start and exits when the file changes, and the recorder
stores an answer only when it changed, so a restart after the last stored answer (its health
check port refusing, its metrics naming a later process) may run a configuration no stored
answer shows: the node's gate is then not stated by its configuration. Literal observations
(the real kind answer's ProxyConfig, tests/replay/test_gate_per_node); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.proxy import gate_stated
from tests.replay.builders import CLUSTER, NS, SVC, at, facts_of, health, node, service
from tests.replay.test_gate_per_node import configz


def _refused(t: float, prev: float, node_name: str) -> Observation:
    """The health check node port refusing: a kube-proxy restarting (its rules stay)."""
    payload = {"status": None, "body": None, "error": "refused", "port": 31805}
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyHealth", "OBSERVED", payload,
                       namespace=NS, name=SVC, node=node_name,
                       previous_observed_at=at(prev))  # fmt: skip


def _stated(restart_at: float | None) -> bool | None:
    obs = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        health(1, None, "n1", 1),
        configz(2, "n1", {}),  # 1.25 naming no gate: the default, off, configured
    ]
    if restart_at is not None:
        obs += [_refused(restart_at, restart_at - 1, "n1"), health(restart_at + 5, None, "n1", 1)]
    return gate_stated(fold(FoldState(), facts_of(obs)), CLUSTER, "n1")


def test_an_answer_before_a_restart_does_not_state_the_gate_after_it() -> None:
    assert _stated(restart_at=None) is False
    assert _stated(restart_at=100) is None


def test_a_restart_before_the_answer_leaves_it_standing() -> None:
    obs = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        health(1, None, "n1", 1),
        _refused(10, 9, "n1"),
        health(15, None, "n1", 1),
        configz(20, "n1", {}),
    ]
    assert gate_stated(fold(FoldState(), facts_of(obs)), CLUSTER, "n1") is False
