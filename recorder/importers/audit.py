"""`k8s-audit`: Kubernetes audit events (audit.k8s.io/v1, v1beta1; JSON lines or an EventList).

Only `ResponseComplete` stages, only writes (create, update, patch, delete) that succeeded, only
the resources replay folds (RESOURCE_KINDS, their `status` subresource included). An event at
level `RequestResponse` carries the object after the change (`responseObject`): it becomes the
observation the watch recorder writes (kind, object, resourceVersion), timed by `stageTimestamp`.
At level `Metadata` or `Request` there is no object: the event is kept as an `APIRequest`
observation (who changed which object when, e.g. the cloud-controller-manager updating a
Service's status), timing evidence only, and the import summary says the objects were missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gapwatch.recorder.importers.base import (
    Context,
    Format,
    Parsed,
    RecordError,
    Skip,
    Stats,
    list_under,
    need_dict,
    need_str,
    need_time,
    opt_dict,
)
from gapwatch.recorder.importers.kobjects import (
    RESOURCE_KINDS,
    object_observation,
    short_text,
    still_exists,
)
from gapwatch.recorder.observation import Observation

SOURCE = "k8s-audit"
EVIDENCE_KIND = "APIRequest"
_OPS = {"create": "ADDED", "update": "MODIFIED", "patch": "MODIFIED", "delete": "DELETED"}
_READS = frozenset({"get", "list", "watch"})
#: The parts of an audit event kept as APIRequest evidence (never request/response bodies).
_EVIDENCE_KEYS = (
    "auditID",
    "level",
    "verb",
    "requestURI",
    "user",
    "impersonatedUser",
    "userAgent",
    "sourceIPs",
    "objectRef",
    "responseStatus",
    "requestReceivedTimestamp",
    "stageTimestamp",
)


def _evidence(event: Mapping[str, Any], kind: str, ctx: Context) -> Observation:
    ref = opt_dict(event.get("objectRef"))
    at = need_time(event, "stageTimestamp")
    name = short_text(ref.get("name") or None, "objectRef.name")
    payload = {k: event[k] for k in _EVIDENCE_KEYS if k in event}
    payload["objectKind"] = kind
    user = opt_dict(event.get("user")).get("username")
    if isinstance(user, str):
        payload["username"] = user
    rv = ref.get("resourceVersion")
    namespace = short_text(ref.get("namespace") or None, "objectRef.namespace")
    return Observation(
        observed_at=at,
        cluster=ctx.cluster,
        source=SOURCE,
        kind=EVIDENCE_KIND,
        op="OBSERVED",
        payload=payload,
        namespace=None if kind == "Node" else namespace,
        name=name,
        node=name if kind == "Node" else None,
        source_time=at,
        resource_version=short_text(rv or None, "objectRef.resourceVersion", 64),
    )


def _final_delete(event: Mapping[str, Any]) -> bool:
    """A DELETE with gracePeriodSeconds 0 (the kubelet's, once the containers stopped) removes
    the object whatever deletion fields its last version shows."""
    options = event.get("requestObject")
    return isinstance(options, Mapping) and options.get("gracePeriodSeconds") == 0


def parse(record: Any, ctx: Context) -> Parsed:
    """One audit event: its object change, an APIRequest, or a Skip saying why not."""
    event = need_dict(record, "audit event")
    kind = event.get("kind")
    if kind not in (None, "Event"):
        raise RecordError(f"kind {kind!r}: not an audit Event")
    api = event.get("apiVersion")
    if api is not None and not (isinstance(api, str) and api.startswith("audit.k8s.io/")):
        raise RecordError(f"apiVersion {api!r}: not audit.k8s.io")
    stage = need_str(event, "stage")
    verb = need_str(event, "verb")
    if stage != "ResponseComplete":
        return Skip(f"stage {stage}")
    if verb in _READS:
        return Skip("read-only request")
    ref = event.get("objectRef")
    if ref is None:
        return Skip("non-resource request")
    ref = need_dict(ref, "objectRef")
    resource = ref.get("resource")
    object_kind = RESOURCE_KINDS.get(resource) if isinstance(resource, str) else None
    if object_kind is None:
        return Skip("resource replay does not use")
    subresource = ref.get("subresource")
    if subresource not in (None, "", "status"):
        return Skip(f"subresource {subresource}")
    op = _OPS.get(verb)
    if op is None:
        return Skip(f"verb {verb}")
    code = opt_dict(event.get("responseStatus")).get("code")
    if isinstance(code, int) and not 200 <= code < 300:
        return Skip("failed request")
    response = event.get("responseObject")
    if not (type(response) is dict and type(response.get("metadata")) is dict):
        return [_evidence(event, object_kind, ctx)]
    if response.get("kind") == "Status":  # older apiservers answer a DELETE with a Status
        return [_evidence(event, object_kind, ctx)]
    if op == "DELETED" and still_exists(response) and not _final_delete(event):
        op = "MODIFIED"
    at = need_time(event, "stageTimestamp")
    return [
        object_observation(
            object_kind, op, response, cluster=ctx.cluster, source=SOURCE, at=at, source_time=at
        )
    ]


def notes(stats: Stats) -> list[str]:
    """What the summary must say about this format's import."""
    missing = stats.kinds.get(EVIDENCE_KIND, 0)
    if not missing:
        return []
    return [
        f"{missing} changes had no object (audit level Metadata or Request): kept as "
        f"{EVIDENCE_KIND} timing evidence; the objects themselves are missing, so replay cannot "
        "rebuild those lanes from them (log at level RequestResponse for endpointslices, pods, "
        "nodes and services)"
    ]


FORMAT = Format(
    name="k8s-audit",
    source=SOURCE,
    parse=parse,
    unwrap=lambda value: (
        list_under(value, "items") if opt_dict(value).get("kind") == "EventList" else None
    ),
    notes=notes,
    help="Kubernetes audit events (audit.k8s.io), JSON lines or an EventList.",
)
