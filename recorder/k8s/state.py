"""What a watcher knows about the objects it has recorded, and the relist diff (pure).

`Known` maps (namespace, name) to the last recorded resourceVersion and no-op fingerprint; it
holds no objects, so 65,000 watched objects cost a few MB. `diff_listed` decides, for one listed
object, whether the relist must record it; the objects that vanished are `known - seen`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.k8s.noop import fingerprint
from recorder.k8s.resources import object_key, resource_version

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Version:
    rv: str
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class LastRow:
    """The newest stored row of one object: what a relist-synthesized DELETED carries."""

    op: str
    rv: str | None
    payload: Mapping[str, Any]


Known = dict[Key, Version]


def apply_event(known: Known, kind: str, op: str, obj: Mapping[str, Any]) -> bool:
    """Update `known` for one watch event; True when it must be recorded (not a no-op)."""
    key = object_key(obj)
    if op == "DELETED":
        known.pop(key, None)
        return True
    version = Version(resource_version(obj), fingerprint(kind, obj))
    previous = known.get(key)
    known[key] = version
    if previous is None:
        return True
    if previous.rv == version.rv:
        return False
    return previous.fingerprint != version.fingerprint


def diff_listed(known: Known, kind: str, obj: Mapping[str, Any]) -> str | None:
    """The op to record for one object of a relist (ADDED / MODIFIED), or None if unchanged."""
    key = object_key(obj)
    previous = known.get(key)
    version = Version(resource_version(obj), fingerprint(kind, obj))
    known[key] = version
    if previous is None:
        return "ADDED"
    if previous.rv == version.rv or previous.fingerprint == version.fingerprint:
        return None
    return "MODIFIED"
