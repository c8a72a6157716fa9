"""The default scope: what concerns the LB-facing externalTrafficPolicy: Local Services.

The Service watcher tells the scope about every Service it sees (`observe`); the other watchers ask
`relevant(kind, obj)` for objects they have not recorded yet (an object once recorded stays
recorded, so the change that takes it out of scope is kept too):

- Service: type LoadBalancer or NodePort (the LB-facing ones, Local or not: a change of
  externalTrafficPolicy matters);
- EndpointSlice: its `kubernetes.io/service-name` names a Local Service of its namespace;
- Pod: its labels match the selector of a Local Service of its namespace;
- ReplicaSet, Deployment, DaemonSet, StatefulSet: their pod template's labels match one;
- Event: reported by the service-controller or kube-proxy;
- Node: always.

The Service watcher always starts with a LIST and the others start once it is synced, so the scope
is complete before any other object is judged. When the scope widens later (a Service turns Local),
`generation` grows and the other watchers relist: what they passed over is recorded as ADDED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
EVENT_COMPONENTS = frozenset({"service-controller", "kube-proxy"})
WORKLOADS = frozenset({"ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"})


def _is_local(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") in ("LoadBalancer", "NodePort") and (
        spec.get("externalTrafficPolicy") == "Local"
    )


class LocalServiceScope:
    """The set of Local Services (namespace, name) -> selector, and the relevance rules."""

    def __init__(self) -> None:
        self.services: dict[tuple[str, str], dict[str, str]] = {}
        #: Grows whenever the scope widens (a Service turns Local, a selector changes): watchers
        #: then relist, so objects they passed over before are recorded.
        self.generation = 0

    def observe(self, op: str, service: Mapping[str, Any]) -> None:
        meta = service.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if op == "DELETED" or not _is_local(service):
            self.services.pop(key, None)
            return
        selector = dict((service.get("spec") or {}).get("selector") or {})
        if self.services.get(key) != selector:
            self.services[key] = selector
            self.generation += 1

    def _selects(self, namespace: str, labels: Mapping[str, Any]) -> bool:
        for (ns, _), selector in self.services.items():
            if (
                ns == namespace
                and selector
                and all(labels.get(k) == v for k, v in selector.items())
            ):
                return True
        return False

    def relevant(self, kind: str, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if kind == "Node":
            return True
        if kind == "Service":
            return (obj.get("spec") or {}).get("type") in ("LoadBalancer", "NodePort")
        if kind == "EndpointSlice":
            name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            return (namespace, str(name)) in self.services
        if kind == "Pod":
            return self._selects(namespace, meta.get("labels") or {})
        if kind in WORKLOADS:
            template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
            return self._selects(namespace, template.get("labels") or {})
        if kind == "Event":
            source = obj.get("source") or {}
            return (
                source.get("component") in EVENT_COMPONENTS
                or obj.get("reportingComponent") in EVENT_COMPONENTS
            )
        return True
