"""The REJECT of a Service with no usable endpoint anywhere in the simulator
(recorder.sim.proxyconf): pkg/proxy/iptables/proxier.go REJECTs such a Service on every node
(`"... has no endpoints"`, CategorizeEndpoints' `hasAnyEndpoints` false), so a NodePort look
there is refused, where a node with no local endpoint of a Service that has some elsewhere
DROPs (a timeout)."""

from __future__ import annotations

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import parse_time

START = parse_time("2026-01-01T00:00:00Z")


def _nodeport(scale_at: float) -> dict[str, list[tuple[float, str]]]:
    events = [{"at_s": scale_at, "action": "scale", "workload": "ingress", "replicas": 0}]
    obs = run(load_scenario("seed-3node", {"events": events}), seed=1).observations
    out: dict[str, list[tuple[float, str]]] = {}
    for o in obs:
        if o.kind == "NodePortProbe" and o.node is not None:
            at = (o.observed_at - START).total_seconds()
            out.setdefault(o.node, []).append((at, o.payload["result"]))
    return out


def test_a_service_with_no_endpoint_anywhere_is_refused_on_every_node() -> None:
    """Scaled to zero: every node REJECTs once kube-proxy synced it, NODE3 (never a local
    pod) included, where it DROPped before (pkg/proxy/iptables/proxier.go)."""
    looks = _nodeport(scale_at=100)
    for node in ("NODE1", "NODE2", "NODE3"):
        assert looks[node][-1][1] == "refused", node
    assert looks["NODE3"][0][1] == "timeout", "endpoints elsewhere: DROP"
