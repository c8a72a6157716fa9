"""The probes' evidence of ProxyTerminatingEndpoints per node where the nodes disagree
(replay.proxy `pte_known`): the gate is each kube-proxy's own (a node pool configured apart, a
configuration rolled out node by node), so where one node's NodePort answered through a long
serving-terminating stretch (on) and another's timed out through one (off), each node reads
its own, and a node that showed neither reads nothing. Where all agree, every node reads the
cluster's evidence as before. Literal observations on 1.26 (the gate beta, on by default, may
be turned off); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.proxy import pte_known
from tests.replay.builders import CLUSTER, eps, facts_of, health, node, nodeport, service

VERSION = "v1.26.15"


def _cluster(n2_times_out: bool) -> FoldState:
    """p1 on n1, p2 on n2 and p3 on n3 turn serving-terminating at 10 s and stay listed; n1's
    NodePort connects on while its health check counts no ready endpoint from 12 s (PTE on);
    n2's NodePort connects until 200 s, then times out (off) or is refused (no evidence); n3
    was never probed."""
    last = "timeout" if n2_times_out else "refused"
    obs: list[Observation] = [
        service(0),
        *(node(0, n, version=VERSION) for n in ("n1", "n2", "n3")),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready"), ("p3", "n3", "ready")]),
        nodeport(1, None, "n1", "connected"),
        nodeport(1, None, "n2", "connected"),
        eps(10, [(p, n, "terminating") for p, n in (("p1", "n1"), ("p2", "n2"), ("p3", "n3"))]),
        health(1, None, "n1", 1),
        health(12, 11, "n1", 0),
        nodeport(200, 199, "n2", last),
    ]
    return fold(FoldState(), facts_of(obs))


def test_nodes_whose_probes_disagree_read_their_own() -> None:
    state = _cluster(n2_times_out=True)
    assert pte_known(state, CLUSTER, DEFAULTS, "n1") is True
    assert pte_known(state, CLUSTER, DEFAULTS, "n2") is False, "its own NodePort dropped"
    assert pte_known(state, CLUSTER, DEFAULTS, "n3") is None, "the others say nothing of it"
    assert pte_known(state, CLUSTER, DEFAULTS) is True, "the cluster's reading: any on"


def test_nodes_whose_probes_agree_read_the_clusters() -> None:
    state = _cluster(n2_times_out=False)
    for name in ("n1", "n2", "n3"):
        assert pte_known(state, CLUSTER, DEFAULTS, name) is True
