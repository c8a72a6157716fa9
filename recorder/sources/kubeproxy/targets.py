"""What to probe, from the ClusterView (or a static node list) and the settings. Pure.

For every `externalTrafficPolicy: Local` Service and every node with an address:
- `ProxyHealth`: GET http://ADDRESS:healthCheckNodePort/healthz (kube-proxy answers any path;
  LBs ask /healthz, see tests/fixtures/kubeproxy/hcnp-aks-session-curl-tcpdump.txt);
- `NodePortProbe`: a TCP connect to the Service's first nodePort (kube-proxy programs every port
  of a Service from the same endpoints), where it has no healthCheckNodePort or when
  `nodeport: always`.
For every node: `ProxyNodeHealth` at /healthz and /livez on the healthz port, `ProxyMetrics`
at /metrics on the metrics port when scraping is on, and `ProxyConfig` at /configz on the same
port when reading it is on (`configz_interval_s`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings
from gapwatch.recorder.sources.kubeproxy.tracker import TargetKey
from gapwatch.recorder.sources.view import NodeInfo, ServiceInfo

NODE_PATHS = ("/healthz", "/livez")


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """One target: its key, where to look, and how (`http` GET or `tcp` connect)."""

    key: TargetKey
    address: str
    port: int
    how: str
    path: str = "/healthz"

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}{self.path}"


def node_address(node: NodeInfo, settings: ProberSettings) -> str | None:
    """Where to reach `node`: the override (node-local agent) or its preferred address."""
    return settings.address_override or node.address(settings.address_types)


def _chosen(nodes: Iterable[NodeInfo], settings: ProberSettings) -> list[NodeInfo]:
    """The nodes to probe: all, or `only_node`. The node-local agent (`only_node` and an
    `address_override`) needs no Node object: it probes its own node through the override."""
    chosen = [n for n in nodes if settings.only_node in (None, n.name)]
    if not chosen and settings.only_node and settings.address_override:
        chosen = [NodeInfo(name=settings.only_node, addresses=())]
    return chosen


def plan(
    services: Iterable[ServiceInfo], nodes: Iterable[NodeInfo], settings: ProberSettings
) -> list[Target]:
    """Every probe target, sorted; metrics targets are not included (see `metrics_targets`)."""
    chosen = _chosen(nodes, settings)
    out: list[Target] = []
    for node in chosen:
        address = node_address(node, settings)
        if address is None:
            continue
        for svc in services:
            if not svc.local:
                continue
            ns, name = svc.namespace, svc.name
            hcnp = svc.health_check_node_port
            if hcnp is not None:
                out.append(
                    Target(TargetKey("ProxyHealth", node.name, ns, name), address, hcnp, "http")
                )
            if wants_nodeport(settings, hcnp) and svc.node_ports:
                key = TargetKey("NodePortProbe", node.name, ns, name)
                out.append(Target(key, address, svc.node_ports[0], "tcp", ""))
        if settings.proxy_healthz:
            for path in NODE_PATHS:
                key = TargetKey("ProxyNodeHealth", node.name, path=path)
                out.append(Target(key, address, settings.healthz_port, "http", path))
    return sorted(out)


def wants_nodeport(settings: ProberSettings, health_check_node_port: int | None) -> bool:
    """Whether the prober connects to a Service's NodePort: `always`, or `fallback` where the
    Service has no health-check node port (docs/kubeproxy.md)."""
    return settings.nodeport == "always" or (
        settings.nodeport == "fallback" and health_check_node_port is None
    )


def metrics_targets(nodes: Iterable[NodeInfo], settings: ProberSettings) -> list[Target]:
    """One /metrics target per node, when scraping is on; one /configz target per node (the
    same port), when reading it is on."""
    wanted = [("ProxyMetrics", "/metrics")] if settings.metrics_interval_s else []
    if settings.configz_interval_s:
        wanted.append(("ProxyConfig", "/configz"))
    out = []
    for node in _chosen(nodes, settings) if wanted else ():
        address = node_address(node, settings)
        if address is not None:
            for kind, path in wanted:
                key = TargetKey(kind, node.name, path=path)
                out.append(Target(key, address, settings.metrics_port, "http", path))
    return sorted(out)
