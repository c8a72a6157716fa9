"""Kubernetes objects from other records (audit `responseObject`, watch captures) as observations.

The observation is the one the watch recorder writes for the same change: the object under its
default `trim` projection (container `env[].value` redacted, the last-applied-configuration
annotation and managedFields' field sets dropped: recorder/sources/k8s/noop.py), its kind,
namespace/name, resourceVersion, and for Pods and Nodes the node. An audit log or a watch
capture holds the object whole; imported as it was, a password set with `env[].value` (and again
inside last-applied-configuration) was stored where the recorder would never have put it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gapwatch.recorder.importers.base import RecordError, need_dict
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.noop import project

#: API resource (plural, as in an audit objectRef) -> the kind replay folds.
RESOURCE_KINDS: dict[str, str] = {
    "endpointslices": "EndpointSlice",
    "pods": "Pod",
    "nodes": "Node",
    "services": "Service",
    "replicasets": "ReplicaSet",
    "deployments": "Deployment",
    "daemonsets": "DaemonSet",
    "statefulsets": "StatefulSet",
    "events": "Event",
}
OBJECT_KINDS = frozenset(RESOURCE_KINDS.values())
#: Longest name, namespace or node (a DNS subdomain) and resourceVersion the contract accepts.
MAX_NAME = 253
MAX_RV = 64


def short_text(value: Any, what: str, limit: int = MAX_NAME) -> str | None:
    """An optional string field, checked against the contract's length limit."""
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > limit:
        raise RecordError(f"{what}: expected a string of 1-{limit} characters")
    return value


def object_observation(
    kind: str,
    op: str,
    obj: Mapping[str, Any],
    *,
    cluster: str,
    source: str,
    at: datetime,
    source_time: datetime | None,
    previous: datetime | None = None,
) -> Observation:
    """The observation of one object change; RecordError when the object lacks its identity."""
    meta = need_dict(obj.get("metadata"), "metadata")
    name = short_text(meta.get("name"), "metadata.name")
    if name is None:
        raise RecordError("metadata.name: missing")
    namespace = short_text(meta.get("namespace"), "metadata.namespace")
    if kind != "Node" and namespace is None:
        raise RecordError(f"metadata.namespace: missing for a {kind}")
    rv = meta.get("resourceVersion")
    rv = short_text(str(rv) if type(rv) is int else rv, "metadata.resourceVersion", MAX_RV)
    node: str | None = None
    if kind == "Node":
        node, namespace = name, None
    elif kind == "Pod":
        spec = obj.get("spec")
        if type(spec) is dict:
            node = short_text(spec.get("nodeName") or None, "spec.nodeName")
    return Observation(
        observed_at=at,
        cluster=cluster,
        source=source,
        kind=kind,
        op=op,
        payload=project(obj, "trim"),
        namespace=namespace,
        name=name,
        node=node,
        source_time=source_time,
        resource_version=rv,
        previous_observed_at=previous,
    )


def still_exists(obj: Mapping[str, Any]) -> bool:
    """After a DELETE, whether the object lives on (graceful Pod deletion, finalizers): the
    API returns it with deletionTimestamp set, and a watch would show MODIFIED, not DELETED."""
    meta = obj.get("metadata")
    if type(meta) is not dict or not meta.get("deletionTimestamp"):
        return False
    grace = meta.get("deletionGracePeriodSeconds")
    return bool(meta.get("finalizers")) or (isinstance(grace, int) and grace > 0)
