"""The observation contract: one thing one observer saw at one instant.

An Observation is what every source yields and what the event log stores, one row each. Its NDJSON
form (one JSON object per line) is documented by `observation.schema.json` beside this file and by
docs/observation.md. `to_dict`/`from_dict` convert between the two; `dedupe_key` says when two
observations are the same one (so a second write is a no-op).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import orjson

from gapwatch.recorder.conforms import conforms
from gapwatch.recorder.errors import ObservationError
from gapwatch.recorder.timefmt import format_time, parse_time

OPS: tuple[str, ...] = ("ADDED", "MODIFIED", "DELETED", "OBSERVED")

#: Kubernetes kinds whose identity is (kind, namespace, name, resourceVersion).
K8S_KINDS = frozenset(
    {
        "EndpointSlice",
        "Service",
        "Node",
        "Pod",
        "ReplicaSet",
        "Deployment",
        "DaemonSet",
        "StatefulSet",
        "Event",
    }
)

#: The stretch a Kubernetes watch passed over when it relisted after 410 Gone
#: (recorder/sources/k8s/relist_gap.py): identified by its stream and both resourceVersions.
RELIST_GAP = "RelistGap"


@dataclass(frozen=True, slots=True)
class Observation:
    """One observation. Times are aware UTC datetimes; payload is JSON-shaped."""

    observed_at: datetime
    cluster: str
    source: str
    kind: str
    op: str
    payload: Mapping[str, Any] = field(hash=False, compare=True)
    namespace: str | None = None
    name: str | None = None
    node: str | None = None
    source_time: datetime | None = None
    resource_version: str | None = None
    previous_observed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The NDJSON form: every field present, times as RFC 3339 UTC strings."""
        return {
            "observed_at": format_time(self.observed_at),
            "cluster": self.cluster,
            "source": self.source,
            "kind": self.kind,
            "op": self.op,
            "namespace": self.namespace,
            "name": self.name,
            "node": self.node,
            "source_time": format_time(self.source_time) if self.source_time else None,
            "resource_version": self.resource_version,
            "previous_observed_at": (
                format_time(self.previous_observed_at) if self.previous_observed_at else None
            ),
            "payload": self.payload,
        }

    def payload_json(self) -> str:
        """The payload as canonical JSON (sorted keys, no spaces): the form that is hashed."""
        return canonical_json(self.payload)

    def dedupe_key(self, payload_json: str | None = None) -> str:
        """32 hex chars that are equal exactly when two observations are the same one.

        A Kubernetes object change is identified by its resourceVersion: the same change seen by
        two recorders (or a relist and a watch) is one observation, whenever it was seen. A
        deletion is told apart from the last update at the same resourceVersion. A relist gap
        (`RELIST_GAP`) is identified by its stream and both resourceVersions. Anything else (a
        probe, a poll, an imported log line) is identified by its observer, time and content.
        `payload_json` saves recomputing `self.payload_json()` when the caller has it.
        """
        parts: tuple[str, ...]
        if self.kind == RELIST_GAP and self.resource_version is not None:
            parts = (
                "relist",
                self.cluster,
                self.namespace or "",
                self.name or "",
                str(self.payload.get("fromResourceVersion") or ""),
                self.resource_version,
            )
        elif self.resource_version is not None and self.kind in K8S_KINDS:
            parts = (
                "k8s",
                self.cluster,
                self.kind,
                self.namespace or "",
                self.name or "",
                self.resource_version,
                "DELETED" if self.op == "DELETED" else "UPSERT",
            )
        else:
            parts = (
                "obs",
                self.cluster,
                self.source,
                self.kind,
                self.op,
                self.namespace or "",
                self.name or "",
                self.node or "",
                format_time(self.observed_at),
                self.resource_version or "",
                payload_json if payload_json is not None else self.payload_json(),
            )
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return digest[:32]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace; the same value always gives the same text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of one NDJSON line."""
    text = (
        resources.files("gapwatch.recorder").joinpath("observation.schema.json").read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


#: The NDJSON fields in the order lines and CSV exports carry them: the schema's properties.
FIELDS: tuple[str, ...] = tuple(schema()["properties"])


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


#: What a pattern of the schema asks, in words: its regex told a user nothing
#: (`'2026-01-01T00:00:00' does not match '^\\d{4}-...$'`).
_TIME_SHAPE = (
    "an RFC 3339 time with seconds (at most 6 decimals) and a zone ('Z' for UTC), "
    "like 2026-01-01T00:00:00.5Z"
)
_PATTERN_WORDS = {
    "observed_at": _TIME_SHAPE,
    "source_time": _TIME_SHAPE,
    "previous_observed_at": _TIME_SHAPE,
    "source": "a source name: lowercase letters, digits, '.', '_' and '-', like k8s-watch",
    "kind": "a kind: a capital letter, then letters and digits, like EndpointSlice",
}
#: JSON's names for what a line held, where Python's (NoneType, list, str) were printed.
_JSON_TYPES = {"NoneType": "null", "list": "an array", "str": "a string", "bool": "true or false"}


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message
    words = _PATTERN_WORDS.get(where) if error.validator == "pattern" else None
    if words is not None:
        message = f"{error.instance!r} is not {words}"
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{where}: {message}" if where else message


#: What `from_dict(..., describe=False)` says of a line that breaks the schema.
UNDESCRIBED = "breaks the schema (not described: enough bad lines were)"


def from_dict(data: Any, *, describe: bool = True) -> Observation:
    """Validate one decoded NDJSON object and build the Observation.

    Raises ObservationError with the field and what was wrong with it. With `describe` False a
    line that breaks the schema is refused as UNDESCRIBED, its first error found and no more:
    jsonschema's whole error walk, to name the best reason, was 155-408 us of CPU a line against
    7-50 us for the first error (session 38), and a pusher is told of 100 bad lines at most.
    """
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ObservationError(f"expected a JSON object, got {_JSON_TYPES.get(got, 'a number')}")
    # The common case in microseconds (recorder/conforms.py); jsonschema decides the rest.
    common = conforms(data)
    if not common and not describe and not _validator().is_valid(data):
        raise ObservationError(UNDESCRIBED)
    errors = [] if common else list(_validator().iter_errors(data))
    if errors:
        missing = [
            e.message.split("'")[1]
            for e in errors
            if e.validator == "required" and not e.absolute_path and "'" in e.message
        ]
        if missing:
            raise ObservationError("missing required field(s): " + ", ".join(missing))
        best = jsonschema.exceptions.best_match(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ObservationError(_describe(best) + more)
    try:
        observed_at = parse_time(data["observed_at"])
    except ValueError as exc:
        raise ObservationError(f"observed_at: {exc}") from exc
    source_time = _optional_time(data, "source_time")
    previous = _optional_time(data, "previous_observed_at")
    if previous is not None and previous > observed_at:
        raise ObservationError("previous_observed_at: later than observed_at")
    payload = data["payload"]
    meta = payload.get("metadata") if data["kind"] in K8S_KINDS else None
    if isinstance(meta, dict) and data.get("name") is not None and meta.get("name") != data["name"]:
        raise ObservationError(
            f"name: {data['name']!r} differs from payload/metadata/name {meta.get('name')!r}"
        )
    return Observation(
        observed_at=observed_at,
        cluster=data["cluster"],
        source=data["source"],
        kind=data["kind"],
        op=data["op"],
        payload=payload,
        namespace=data.get("namespace"),
        name=data.get("name"),
        node=data.get("node"),
        source_time=source_time,
        resource_version=data.get("resource_version"),
        previous_observed_at=previous,
    )


def _optional_time(data: dict[str, Any], key: str) -> datetime | None:
    if data.get(key) is None:
        return None
    try:
        return parse_time(data[key])
    except ValueError as exc:
        raise ObservationError(f"{key}: {exc}") from exc


def validate(observation: Observation) -> Observation:
    """Check an Observation built in code against the contract (sources and the simulator)."""
    return from_dict(orjson.loads(orjson.dumps(observation.to_dict())))
