"""benchmarks/accuracy.py `--without-nodeport`: the observations the recorder's prober stores
under its default `nodeport: fallback` (docs/kubeproxy.md): no NodePort probe of a Service that
has a healthCheckNodePort (a LoadBalancer Service: its health check is probed instead), the
NodePort probes of one that has none (type NodePort: the fallback probes its NodePort)."""

from __future__ import annotations

from dataclasses import replace

from tests.replay.accuracy import nodeport_fallback
from tests.replay.builders import health, nodeport, service


def test_a_load_balancer_service_keeps_its_health_check_and_loses_its_nodeport_probes() -> None:
    obs = [service(0), health(1, None, "n1", 1), nodeport(1, None, "n1", "connected")]
    kept = nodeport_fallback(obs)
    assert [o.kind for o in kept] == ["Service", "ProxyHealth"]


def test_a_nodeport_service_without_a_health_check_port_keeps_its_nodeport_probes() -> None:
    svc = service(0)
    spec = {k: v for k, v in svc.payload["spec"].items() if k != "healthCheckNodePort"}
    plain = replace(svc, payload={**svc.payload, "spec": {**spec, "type": "NodePort"}})
    obs = [plain, nodeport(1, None, "n1", "connected"), nodeport(2, 1, "n1", "timeout")]
    assert nodeport_fallback(obs) == obs
