"""`k8s-watch`: captures of `kubectl get ... --watch -o json` (with or without
`--output-watch-events`), raw watch lines from the API, and `kubectl get -o json` lists.

A capture has no observer clock, so each object is timed by its own newest timestamp (its
`managedFields` write times, status condition transitions and heartbeats, creation, an
EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time`, an Event's last time) and by
the capture's order: never earlier than the record before it. `previous_observed_at` is the
previous record's time, so the change is only known to lie in (previous record, this record],
and a long gap in the capture shows as a long uncertainty rather than a false instant.
Without watch events, the first sight of an object is ADDED and later ones MODIFIED. BOOKMARK
events are skipped; ERROR events (410 Gone: the capture missed changes) are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from gapwatch.recorder.importers.base import (
    Context,
    Format,
    Parsed,
    RecordError,
    Skip,
    list_under,
    need_dict,
    opt_dict,
)
from gapwatch.recorder.importers.kobjects import OBJECT_KINDS, object_observation
from gapwatch.recorder.timefmt import parse_time

SOURCE = "k8s-watch"
_OPS = frozenset({"ADDED", "MODIFIED", "DELETED"})
TRIGGER_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def _stamps(obj: Mapping[str, Any]) -> Iterator[Any]:
    meta = opt_dict(obj.get("metadata"))
    yield meta.get("creationTimestamp")
    yield opt_dict(meta.get("annotations")).get(TRIGGER_ANNOTATION)
    for entry in meta.get("managedFields") or []:
        yield opt_dict(entry).get("time")
    for cond in opt_dict(obj.get("status")).get("conditions") or []:
        cond = opt_dict(cond)
        yield cond.get("lastTransitionTime")
        yield cond.get("lastHeartbeatTime")
    yield obj.get("lastTimestamp")
    yield obj.get("eventTime")


def own_time(obj: Mapping[str, Any]) -> datetime | None:
    """The newest timestamp the object carries about itself, if any."""
    best: datetime | None = None
    for text in _stamps(obj):
        if isinstance(text, str):
            try:
                value = parse_time(text)
            except ValueError:
                continue
            if best is None or value > best:
                best = value
    return best


def parse(record: Any, ctx: Context) -> Parsed:
    """One watch event or object of a capture."""
    data = need_dict(record, "watch record")
    event_type = data.get("type")
    if isinstance(event_type, str) and "object" in data:
        if event_type == "BOOKMARK":
            return Skip("BOOKMARK")
        if event_type == "ERROR":
            return Skip("watch ERROR event (changes may be missing)")
        if event_type not in _OPS:
            raise RecordError(f"type {event_type!r}: not a watch event type")
        obj = need_dict(data["object"], "object")
    else:
        obj, event_type = data, None
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise RecordError("kind: missing (not a Kubernetes object)")
    if kind not in OBJECT_KINDS:
        return Skip("kind replay does not use")
    meta = need_dict(obj.get("metadata"), "metadata")
    previous: datetime | None = ctx.memo.get("last")
    mine = own_time(obj)
    at = max(t for t in (mine, previous) if t is not None) if (mine or previous) else None
    if at is None:
        raise RecordError("no timestamp in the object and none earlier in the capture")
    seen: set[tuple[str, Any, Any]] = ctx.memo.setdefault("seen", set())
    key = (kind, meta.get("namespace"), meta.get("name"))
    op = event_type or ("MODIFIED" if key in seen else "ADDED")
    observation = object_observation(
        kind,
        op,
        obj,
        cluster=ctx.cluster,
        source=SOURCE,
        at=at,
        source_time=mine,
        previous=previous if previous is not None and previous < at else None,
    )
    seen.add(key)
    ctx.memo["last"] = at
    return [observation]


def _unwrap(value: Any) -> list[Any] | None:
    """A list's items (a JSON array, or a `v1 List` / `NodeList` ...); API list items carry no
    `kind`, so they get the one their list names, in place (the items stay the document's own
    objects: recorder.uniquekeys.repeats tells them apart by identity)."""
    if isinstance(value, list):
        return value
    kind = opt_dict(value).get("kind")
    if not (isinstance(kind, str) and kind.endswith("List")):
        return None
    items = list_under(value, "items")
    if items is None or kind == "List":
        return items
    item_kind = kind.removesuffix("List")
    for item in items:
        if isinstance(item, dict) and "kind" not in item:
            item["kind"] = item_kind
    return items


FORMAT = Format(
    name="k8s-watch",
    source=SOURCE,
    parse=parse,
    unwrap=_unwrap,
    help="kubectl watch captures (objects or watch events) and lists.",
)
