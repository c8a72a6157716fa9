"""What the sources share about the cluster: the LB-facing Services and the Nodes, kept current.

The Kubernetes source calls `observe(kind, op, obj)` for every Service and Node it records; the
kube-proxy prober and the LB pollers read `local_services()` and `nodes()` (and wait on
`changed()`) to know what to probe and how to map a target to a node. Without a Kubernetes source
in the same process (a sidecar, `gapwatch probe`), a caller fills the view itself with `put_*`.

It also keeps, per Service, how many endpoints its EndpointSlices list on each node
(`listed_endpoints`), in any condition, where a consumer asked for it (`wants_slices`, set
before the sources run): the prober's NodePort self-check (recorder/sources/kubeproxy/
selfcheck.py) asks whether a node has none. Without it the Kubernetes source neither loads the
stored slices at its start nor hands the view the watched ones. A slice change does not wake
`changed()`: it changes no target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The label an EndpointSlice names its Service by.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: discovery.k8s.io/v1beta1's node of an endpoint (v1 has `nodeName`).
HOSTNAME_KEY = "kubernetes.io/hostname"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """An LB-facing Service as the probers need it."""

    namespace: str
    name: str
    external_traffic_policy: str | None
    health_check_node_port: int | None
    node_ports: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def local(self) -> bool:
        return self.external_traffic_policy == "Local"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A Node as the probers and pollers need it."""

    name: str
    #: status.addresses as (type, address), in the API's order.
    addresses: tuple[tuple[str, str], ...]
    provider_id: str | None = None
    kube_proxy_version: str | None = None
    kubelet_version: str | None = None

    def address(self, preferred: tuple[str, ...] = ("InternalIP", "ExternalIP")) -> str | None:
        for kind in preferred:
            for typ, value in self.addresses:
                if typ == kind:
                    return value
        return None


def service_info(obj: Mapping[str, Any]) -> ServiceInfo:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    ports = tuple(
        int(p["nodePort"]) for p in spec.get("ports") or () if isinstance(p.get("nodePort"), int)
    )
    hcnp = spec.get("healthCheckNodePort")
    return ServiceInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        external_traffic_policy=spec.get("externalTrafficPolicy"),
        health_check_node_port=int(hcnp) if isinstance(hcnp, int) else None,
        node_ports=ports,
    )


def node_info(obj: Mapping[str, Any]) -> NodeInfo:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    info = status.get("nodeInfo") or {}
    return NodeInfo(
        name=str(meta.get("name") or ""),
        addresses=tuple(
            (str(a.get("type")), str(a.get("address")))
            for a in status.get("addresses") or ()
            if a.get("address")
        ),
        provider_id=spec.get("providerID"),
        kube_proxy_version=info.get("kubeProxyVersion") or None,
        kubelet_version=info.get("kubeletVersion") or None,
    )


def slice_listing(obj: Mapping[str, Any]) -> tuple[str, str, dict[str, int]] | None:
    """An EndpointSlice's Service (`namespace/name`), its own name, and how many endpoints it
    lists on each node, whatever their conditions (ready, serving, terminating); None when it
    names no Service."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return None
    per_node: dict[str, int] = {}
    for ep in obj.get("endpoints") or ():
        if not isinstance(ep, Mapping):
            continue
        node = ep.get("nodeName") or (ep.get("topology") or {}).get(HOSTNAME_KEY)
        if isinstance(node, str) and node:
            per_node[node] = per_node.get(node, 0) + 1
    return f"{meta.get('namespace') or ''}/{service}", str(meta.get("name") or ""), per_node


class ClusterView:
    """See the module docstring. Lives in one event loop; not thread-safe."""

    #: keep the EndpointSlices' listing (a consumer sets it on its view before the sources run)
    wants_slices: bool = False

    def __init__(self) -> None:
        self._services: dict[str, ServiceInfo] = {}
        #: Service key -> slice name -> node -> endpoints listed there
        self._slices: dict[str, dict[str, dict[str, int]]] = {}
        self._nodes: dict[str, NodeInfo] = {}
        self.generation = 0
        self._changed: asyncio.Event | None = None

    def _bump(self) -> None:
        self.generation += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def observe(self, kind: str, op: str, obj: Mapping[str, Any]) -> None:
        """Take a Service or Node as the Kubernetes source saw it (other kinds are ignored)."""
        if kind == "Service":
            svc = service_info(obj)
            if op == "DELETED":
                self.drop_service(svc.key)
            else:
                self.put_service(svc)
        elif kind == "Node":
            node = node_info(obj)
            if op == "DELETED":
                self.drop_node(node.name)
            else:
                self.put_node(node)
        elif kind == "EndpointSlice" and self.wants_slices:
            listing = slice_listing(obj)
            if listing is not None:
                service, name, per_node = listing
                slices = self._slices.setdefault(service, {})
                if op == "DELETED":
                    slices.pop(name, None)
                    if not slices:  # the Service's last slice: nothing kept for a name gone
                        del self._slices[service]
                else:
                    slices[name] = per_node

    def listed_endpoints(self, service_key: str, node: str) -> int | None:
        """How many endpoints the Service's EndpointSlices list on `node`, in any condition;
        None when no slice of the Service was seen (the view does not know)."""
        slices = self._slices.get(service_key)
        if slices is None:
            return None
        return sum(per_node.get(node, 0) for per_node in slices.values())

    def put_service(self, svc: ServiceInfo) -> None:
        if self._services.get(svc.key) != svc:
            self._services[svc.key] = svc
            self._bump()

    def drop_service(self, key: str) -> None:
        if self._services.pop(key, None) is not None:
            self._bump()

    def put_node(self, node: NodeInfo) -> None:
        if self._nodes.get(node.name) != node:
            self._nodes[node.name] = node
            self._bump()

    def drop_node(self, name: str) -> None:
        if self._nodes.pop(name, None) is not None:
            self._bump()

    def local_services(self) -> list[ServiceInfo]:
        """The externalTrafficPolicy: Local Services, sorted by namespace/name."""
        return sorted((s for s in self._services.values() if s.local), key=lambda s: s.key)

    def services(self) -> list[ServiceInfo]:
        return sorted(self._services.values(), key=lambda s: s.key)

    def nodes(self) -> list[NodeInfo]:
        return sorted(self._nodes.values(), key=lambda n: n.name)

    async def changed(self) -> None:
        """Return at the next change."""
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()
