"""A fast, sound check of one NDJSON observation against observation.schema.json.

jsonschema's generic validator cost 2 ms per line, 13 times the write, on `gapwatch import` (issue
15). `conforms(data)` walks the same contract in plain Python in a few microseconds. It is sound,
not complete: True means the schema accepts the line; False means "not sure", and
recorder.observation.from_dict then runs jsonschema itself, which decides and words the error.
So a line is accepted or refused exactly as before, only faster in the common case
(tests/store/test_conforms.py checks the one-way agreement on real and fuzzed lines).

The patterns are the schema's own, applied as jsonschema applies them (`re.search`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

_NAMESPACED = frozenset(
    {"EndpointSlice", "Service", "Pod", "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet",
     "Event"}
)  # fmt: skip
_OPS = frozenset({"ADDED", "MODIFIED", "DELETED", "OBSERVED"})
_PROBE_RESULTS = frozenset({"connected", "refused", "reset", "timeout", "error"})


@cache
def _rules() -> tuple[frozenset[str], frozenset[str], Callable[[str], Any], Callable[[str], Any],
                      Callable[[str], Any], Callable[[str], Any]]:  # fmt: skip
    from gapwatch.recorder.observation import schema  # it imports this module

    props = schema()["properties"]
    return (
        frozenset(props),
        frozenset(schema()["required"]),
        re.compile(props["observed_at"]["pattern"]).search,
        re.compile(props["source"]["pattern"]).search,
        re.compile(props["kind"]["pattern"]).search,
        re.compile(props["source_time"]["pattern"]).search,
    )


#: source and kind values already matched, one set per pattern (a file repeats a handful): a
#: set lookup instead of a regex.
_KNOWN_SOURCES: set[str] = set()
_KNOWN_KINDS: set[str] = set()
_KNOWN_MAX = 4096


def _matches(value: Any, search: Callable[[str], Any], known: set[str]) -> bool:
    if type(value) is not str:
        return False
    if value in known:
        return True
    if not search(value):
        return False
    if len(known) < _KNOWN_MAX:
        known.add(value)
    return True


def _text(value: Any, longest: int, shortest: int = 0) -> bool:
    return type(value) is str and shortest <= len(value) <= longest


def _optional(value: Any, longest: int) -> bool:
    return value is None or _text(value, longest)


def _has_name(payload: Mapping[str, Any]) -> bool:
    meta = payload.get("metadata")
    return type(meta) is dict and "name" in meta


def _kind_rules(kind: str, data: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    if kind in _NAMESPACED:
        return (
            _text(data.get("namespace"), 253, 1)
            and _text(data.get("name"), 253, 1)
            and _has_name(payload)
        )
    if kind == "Node":
        return _text(data.get("name"), 253, 1) and _has_name(payload)
    if kind == "ProxyHealth":
        status = payload.get("status", False)
        return (
            _text(data.get("node"), 253, 1)
            and (status is None or type(status) is int)
            and (payload.get("body") is None or type(payload["body"]) is dict)
            and _optional(payload.get("error"), 1 << 62)
        )
    if kind == "NodePortProbe":
        port = payload.get("port")
        return (
            _text(data.get("node"), 253, 1)
            and type(port) is int
            and 1 <= port <= 65535
            and type(payload.get("result")) is str
            and payload["result"] in _PROBE_RESULTS
        )
    if kind == "TargetHealth":
        target, health = payload.get("Target"), payload.get("TargetHealth")
        return (
            type(target) is dict and "Id" in target and type(health) is dict and "State" in health
        )
    if kind in ("RelistGap", "NodePortSelfCheck", "ProxyConfig"):
        return False  # rare: jsonschema decides
    if kind == "TargetGroupAttributes":
        attributes = payload.get("Attributes")
        return (
            type(payload.get("TargetGroupArn")) is str
            and type(attributes) is dict
            and all(type(v) is str for v in attributes.values())
        )
    return True


def conforms(data: Any) -> bool:
    """True only if observation.schema.json accepts `data` (False: ask jsonschema)."""
    if type(data) is not dict:
        return False
    fields, required, time_ok, source_ok, kind_ok, other_time_ok = _rules()
    if not data.keys() <= fields or not required <= data.keys():
        return False
    observed_at, source, kind = data["observed_at"], data["source"], data["kind"]
    payload, cluster, op = data["payload"], data["cluster"], data["op"]
    # _text and _optional spelled out: this runs for every line `gapwatch import` reads
    get = data.get
    namespace, name, node, version = (
        get("namespace"),
        get("name"),
        get("node"),
        get("resource_version"),
    )
    if not (
        type(observed_at) is str
        and time_ok(observed_at)
        and type(cluster) is str
        and 1 <= len(cluster) <= 253
        and type(source) is str
        and (source in _KNOWN_SOURCES or _matches(source, source_ok, _KNOWN_SOURCES))
        and type(kind) is str
        and (kind in _KNOWN_KINDS or _matches(kind, kind_ok, _KNOWN_KINDS))
        and type(op) is str
        and op in _OPS
        and type(payload) is dict
        and (namespace is None or (type(namespace) is str and len(namespace) <= 253))
        and (name is None or (type(name) is str and len(name) <= 253))
        and (node is None or (type(node) is str and len(node) <= 253))
        and (version is None or (type(version) is str and len(version) <= 64))
    ):
        return False
    for key in ("source_time", "previous_observed_at"):
        value = data.get(key)
        if value is not None and not (type(value) is str and other_time_ok(value)):
            return False
    return _kind_rules(kind, data, payload)
