"""The watched Kubernetes resources and how one raw object becomes an Observation (pure).

`RESOURCES` names every kind the recorder watches, with its API path. `to_observation` stamps a
raw object (a dict as the API returned it) with the observer's time, the object's own relevant time
(`source_time`) and the node it concerns, per docs/observation.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import parse_time

SOURCE = "k8s-watch"


@dataclass(frozen=True, slots=True)
class Resource:
    """One watchable resource: `kind` as in observations, API group/version and plural."""

    kind: str
    group_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None) -> str:
        """The collection path, e.g. /apis/apps/v1/namespaces/ns/deployments."""
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    @property
    def api_group(self) -> str:
        """The RBAC apiGroup ("" for core)."""
        return "" if self.group_version == "v1" else self.group_version.split("/")[0]


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
        Resource("Service", "v1", "services"),
        Resource("Node", "v1", "nodes", namespaced=False),
        Resource("Pod", "v1", "pods"),
        Resource("ReplicaSet", "apps/v1", "replicasets"),
        Resource("Deployment", "apps/v1", "deployments"),
        Resource("DaemonSet", "apps/v1", "daemonsets"),
        Resource("StatefulSet", "apps/v1", "statefulsets"),
        Resource("Event", "v1", "events"),
    )
}


def object_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name) of a raw object; namespace "" for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def source_time(kind: str, op: str, obj: Mapping[str, Any]) -> datetime | None:
    """The object's own time for this change, where it has one.

    Events: eventTime, else lastTimestamp, else firstTimestamp. Any object being deleted: its
    metadata.deletionTimestamp. An ADDED object: its creationTimestamp. Otherwise None (the API
    does not say when an update happened).
    """
    meta = obj.get("metadata") or {}
    if kind == "Event":
        for key in ("eventTime", "lastTimestamp", "firstTimestamp"):
            found = _time(obj.get(key))
            if found is not None:
                return found
        series = obj.get("series") or {}
        return _time(series.get("lastObservedTime"))
    deleting = _time(meta.get("deletionTimestamp"))
    if deleting is not None:
        return deleting
    if op == "ADDED":
        return _time(meta.get("creationTimestamp"))
    return None


def node_of(kind: str, obj: Mapping[str, Any]) -> str | None:
    """The node an object concerns: a Pod's spec.nodeName, a Node's name, an Event's host."""
    if kind == "Pod":
        return (obj.get("spec") or {}).get("nodeName") or None
    if kind == "Node":
        return (obj.get("metadata") or {}).get("name") or None
    if kind == "Event":
        return (obj.get("source") or {}).get("host") or None
    return None


def to_observation(
    *, cluster: str, kind: str, op: str, obj: Mapping[str, Any], observed_at: datetime
) -> Observation:
    """The observation of one watch event (or relist difference) for `obj`."""
    namespace, name = object_key(obj)
    return Observation(
        observed_at=observed_at,
        cluster=cluster,
        source=SOURCE,
        kind=kind,
        op=op,
        payload=obj,
        namespace=namespace or None,
        name=name or None,
        node=node_of(kind, obj),
        source_time=source_time(kind, op, obj),
        resource_version=resource_version(obj) or None,
    )
