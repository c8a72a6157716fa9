"""Which updates are no-ops, and the projection of objects that is stored (pure).

A watch delivers every write to an object, including writes that change nothing replay or a
postmortem could use: a Node's kubelet heartbeat rewrites `status.conditions[].lastHeartbeatTime`
every 10 s (x 5,000 nodes), and `metadata.managedFields` timestamps change with every apply.
`fingerprint` hashes an object without those fields; an update whose fingerprint equals the last
recorded one is dropped (its resourceVersion still advances the checkpoint). Every other field
counts, so a change to any field replay reads is always kept.

`project` is what is stored: `full` keeps the object exactly as the API returned it; `trim` (the
default) drops the field sets of `metadata.managedFields` (`fieldsV1`; each entry keeps its
manager, operation, subresource and `time`: the API server's own time of the write, which replay
uses to bound when a change happened, replay/owntime.py) and the
`kubectl.kubernetes.io/last-applied-configuration` annotation, which repeat the object and are
often larger than it, and redacts container `env[].value`, `args` and `command`
(sources/k8s/redaction.py; the preStop hook's command is kept). Paths the
operator lists (`redact_paths`) are redacted under either projection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson

from gapwatch.recorder.sources.k8s.redaction import TRIM_PATHS, redact_paths

Projection = Literal["full", "trim"]
PROJECTIONS: tuple[str, ...] = ("full", "trim")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

#: Per kind, condition timestamps that change without the condition changing.
_HEARTBEAT_FIELDS: dict[str, tuple[str, ...]] = {
    "Node": ("lastHeartbeatTime",),
}


def project(
    obj: Mapping[str, Any], projection: Projection, redact: Sequence[str] = ()
) -> Mapping[str, Any]:
    """The stored form of `obj` under `projection`, `redact` paths redacted (never mutates)."""
    if projection == "full":
        return redact_paths(obj, redact)
    return redact_paths(_trim(obj), (*TRIM_PATHS, *redact))


def _trim(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return obj
    annotations = meta.get("annotations")
    if "managedFields" not in meta and not (
        isinstance(annotations, Mapping) and LAST_APPLIED in annotations
    ):
        return obj
    new_meta = {k: v for k, v in meta.items() if k != "managedFields"}
    stamps = _write_times(meta.get("managedFields"))
    if stamps:
        new_meta["managedFields"] = stamps
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        new_meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {**obj, "metadata": new_meta}


#: What `trim` keeps of each managedFields entry: who wrote, how, and when (not what).
_MANAGED_KEPT = ("manager", "operation", "subresource", "time")


def _write_times(fields: Any) -> list[dict[str, Any]]:
    return [
        {k: entry[k] for k in _MANAGED_KEPT if k in entry}
        for entry in (fields if isinstance(fields, list) else ())
        if isinstance(entry, Mapping) and entry.get("time")
    ]


def _without_noise(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    # env values, args and command are never stored (trim): a stored object must fingerprint
    # like the API's
    obj = redact_paths(obj, TRIM_PATHS)
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    # List items carry no kind/apiVersion while watch events do: not a change.
    clean: dict[str, Any] = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    clean["metadata"] = meta
    fields = _HEARTBEAT_FIELDS.get(kind)
    status = obj.get("status")
    if fields and isinstance(status, Mapping) and isinstance(status.get("conditions"), list):
        conditions = [
            {k: v for k, v in c.items() if k not in fields} if isinstance(c, Mapping) else c
            for c in status["conditions"]
        ]
        clean["status"] = {**status, "conditions": conditions}
    return clean


def fingerprint(kind: str, obj: Mapping[str, Any]) -> bytes:
    """16 bytes that are equal exactly when two versions differ only in no-op fields.

    The same under either projection, so a fingerprint of a stored (trimmed) object matches one
    of the object as the API returned it (env values, args and command do not count; paths an
    operator adds to `redact_paths` do, so an object with one looks changed once after a restart).
    """
    clean = _without_noise(kind, obj)
    try:
        body = orjson.dumps(clean, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson's JSONEncodeError: nested past its 255 levels, or a big integer
        return _deep_fingerprint(clean)
    return hashlib.blake2b(body, digest_size=16).digest()


def _deep_fingerprint(value: Any) -> bytes:
    """`fingerprint`'s digest of a value orjson cannot write (nested deeper than its 255
    levels: a watch line parses up to 1,024), walked without recursion: equal for equal values
    whatever their keys' order. Such an object stopped the recorder (`TypeError: Recursion
    limit reached` out of the watch, session 40); it is now recorded, and the store, which
    keeps 253 levels, quarantines it (recorder/quarantine.py)."""
    digest = hashlib.blake2b(b"deep", digest_size=16)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            keys = sorted(node, key=str)
            digest.update(b"{%d:" % len(keys))
            for key in reversed(keys):
                stack += [node[key], _Key(str(key))]
        elif isinstance(node, list | tuple):
            digest.update(b"[%d:" % len(node))
            stack += reversed(node)
        else:
            digest.update(_scalar(node))
    return digest.digest()


class _Key(str):
    """A mapping's key on `_deep_fingerprint`'s stack (told apart from a string value)."""


def _scalar(value: Any) -> bytes:
    if isinstance(value, _Key):
        return b"k" + orjson.dumps(str(value))
    try:
        return b"v" + orjson.dumps(value)
    except TypeError:  # an integer past 64 bits
        return b"r" + repr(value).encode("utf-8", "backslashreplace")
