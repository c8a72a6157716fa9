"""What a watcher knows about the objects it has recorded, and the relist diff (pure).

`Known` maps (namespace, name) to the last recorded resourceVersion and no-op fingerprint; it
holds no objects, so 65,000 watched objects cost a few MB. `diff_listed` decides, for one listed
object, whether the relist must record it; the objects that vanished are `known - seen`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gapwatch.recorder.sources.k8s.noop import fingerprint
from gapwatch.recorder.sources.k8s.resources import object_key, resource_version

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


def not_newer(rv: str, than: str) -> bool:
    """True when `rv` is the same as `than` or provably older.

    resourceVersions are opaque to clients, but etcd-backed API servers issue decimal integers
    that grow (client-go's watch cache parses them so); only those are ordered, anything else
    is only compared for equality.
    """
    if rv == than:
        return True
    return rv.isdigit() and than.isdigit() and int(rv) < int(than)


def older(rv: str, than: str) -> bool:
    """True when `rv` is provably older than `than` (both decimal: see `not_newer`)."""
    return rv != than and not_newer(rv, than)


def apply_event(known: Known, kind: str, op: str, obj: Mapping[str, Any]) -> bool:
    """Update `known` for one watch event; True when it must be recorded (not a no-op).

    An event not newer than the known version is skipped: it is replayed from a checkpoint older
    than the stored state (another replica's rows), so it is stored already or was a no-op.
    """
    key = object_key(obj)
    rv = resource_version(obj)
    previous = known.get(key)
    if previous is not None and not_newer(rv, previous.rv):
        return False
    if op == "DELETED":
        known.pop(key, None)
        return True
    version = Version(rv, fingerprint(kind, obj))
    known[key] = version
    if previous is None:
        return True
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
