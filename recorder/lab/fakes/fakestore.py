"""The state behind the fake API server (fakeapi.py): objects, resourceVersions,
history with compaction, list snapshots, and the scripted faults.

Write times, when the store has a `clock` (the lab gives it the simulation's): as a real cluster
does, every create or update that changes an object stamps `metadata.managedFields[].time` of the
entry written (the `status` subresource's when only `status` changed) and every condition in
`status.conditions` whose `status` differs from the stored version's (or is new) gets
`lastTransitionTime` = now, while an unchanged condition keeps its stored one. Whole seconds, as
the API serializes `metav1.Time`. (In a real cluster the condition's writer, kubelet or a
controller, stamps `lastTransitionTime` from its own clock just before the write; the apiserver
stamps `managedFields`. Here both are the write's instant on the fake's clock.) Without a clock
objects are stored as given.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The managedFields manager the lab's writes are made as.
MANAGER = "gapwatch-lab"

#: plural -> (kind, apiVersion, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "endpointslices": ("EndpointSlice", "discovery.k8s.io/v1", True),
    "services": ("Service", "v1", True),
    "nodes": ("Node", "v1", False),
    "pods": ("Pod", "v1", True),
    "replicasets": ("ReplicaSet", "apps/v1", True),
    "deployments": ("Deployment", "apps/v1", True),
    "daemonsets": ("DaemonSet", "apps/v1", True),
    "statefulsets": ("StatefulSet", "apps/v1", True),
    "events": ("Event", "v1", True),
}
PLURAL_OF = {kind: plural for plural, (kind, _, _) in KINDS.items()}


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the server's history: what a watcher would be sent."""

    rv: int
    type: str
    plural: str
    obj: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        meta = self.obj["metadata"]
        return meta.get("namespace") or "", meta["name"]


@dataclass
class Snapshot:
    rv: int
    items: list[dict[str, Any]]


@dataclass
class FaultCounters:
    lists: int = 0
    watches: int = 0
    gone: int = 0
    expired_continue: int = 0
    slow_closed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _whole_seconds(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: Mapping[str, Any] | None) -> Any:
    """An object without what a write itself sets (resourceVersion, managedFields)."""
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}  # fmt: skip
    return {**obj, "metadata": meta}


def stamp_write(obj: dict[str, Any], old: Mapping[str, Any] | None, now: str) -> None:
    """Set the write times of `obj`, replacing `old` (None: a create), at `now` (module doc)."""
    status = obj.get("status")
    old_status = (old or {}).get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    if isinstance(conditions, list):
        before = {}
        if isinstance(old_status, Mapping) and isinstance(old_status.get("conditions"), list):
            before = {c.get("type"): c for c in old_status["conditions"] if isinstance(c, Mapping)}
        for cond in conditions:
            if not isinstance(cond, dict):
                continue
            prior = before.get(cond.get("type"))
            if prior is not None and prior.get("status") == cond.get("status"):
                if prior.get("lastTransitionTime") is not None:
                    cond["lastTransitionTime"] = prior["lastTransitionTime"]
            else:
                cond["lastTransitionTime"] = now
    meta = obj["metadata"]
    entries = [dict(e) for e in ((old or {}).get("metadata") or {}).get("managedFields") or []]
    if old is not None and _content(old) == _content(obj):
        meta["managedFields"] = entries  # nothing changed: no entry's time moves
        return
    only_status = old is not None and _content({**old, "status": None}) == _content(
        {**obj, "status": None}
    )
    sub = "status" if only_status else None
    mine = next(
        (e for e in entries if e.get("manager") == MANAGER and e.get("subresource") == sub), None
    )
    if mine is None:
        mine = {"manager": MANAGER, "operation": "Update", "apiVersion": obj["apiVersion"],
                "fieldsType": "FieldsV1", "fieldsV1": {}}  # fmt: skip
        if sub is not None:
            mine["subresource"] = sub
        entries.append(mine)
    mine["time"] = now
    meta["managedFields"] = entries


def parse_selector(text: str) -> list[tuple[str, str, str | None]]:
    """`a=b,c!=d,e,!f` -> [(op, key, value)]."""
    terms: list[tuple[str, str, str | None]] = []
    for raw in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in raw:
            k, v = raw.split("!=", 1)
            terms.append(("!=", k.strip(), v.strip()))
        elif "=" in raw:
            k, v = raw.split("=", 1)
            terms.append(("=", k.strip(), v.strip().lstrip("=")))
        elif raw.startswith("!"):
            terms.append(("!", raw[1:], None))
        else:
            terms.append(("exists", raw, None))
    return terms


def matches(obj: Mapping[str, Any], terms: list[tuple[str, str, str | None]]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for op, key, value in terms:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


class FakeStore:
    """The API server's state: objects, the global resourceVersion, the history, the faults.

    Mutations and faults may be called from any thread; `_notify` wakes the HTTP side.
    """

    def __init__(self) -> None:
        self.rv = 1000
        self.compacted_rv = 1000
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in KINDS}
        self.history: list[Change] = []
        self.log: list[Change] = []  # every change ever made, never compacted (for assertions)
        self.served_at: dict[int, float] = {}
        #: every LIST begun: (plural, the snapshot's resourceVersion, wall time)
        self.lists_served: list[tuple[str, int, float]] = []
        self.counters = FaultCounters()
        self._lock = threading.RLock()
        self._snapshots: dict[str, Snapshot] = {}
        self._generation = 0  # bumped by drop_watches
        self._gone_generation = 0  # bumped by send_gone
        self._silent = False
        self._down = False
        self.authorizations: set[str] = set()  # Authorization headers seen (no checks)
        #: the API server's clock for write times (module docstring); None: no stamping
        self.clock: Callable[[], datetime] | None = None

    def _notify(self) -> None:
        """Wake the watch streams (the HTTP side overrides this)."""

    # --- mutations (any thread) ------------------------------------------------------------
    def _commit(self, type_: str, plural: str, obj: dict[str, Any]) -> int:
        with self._lock:
            self.rv += 1
            obj = copy.deepcopy(obj)
            kind, api_version, namespaced = KINDS[plural]
            obj["kind"], obj["apiVersion"] = kind, api_version
            meta = obj.setdefault("metadata", {})
            if not namespaced:
                meta.pop("namespace", None)
            meta["resourceVersion"] = str(self.rv)
            key = (meta.get("namespace") or "", meta["name"])
            if type_ != "DELETED" and self.clock is not None:
                stamp_write(obj, self.objects[plural].get(key), _whole_seconds(self.clock()))
            if type_ == "DELETED":
                self.objects[plural].pop(key, None)
            else:
                self.objects[plural][key] = obj
            change = Change(self.rv, type_, plural, obj)
            self.history.append(change)
            self.log.append(change)
            rv = self.rv
        self._notify()
        return rv

    def create(self, kind: str, obj: Mapping[str, Any]) -> int:
        plural = PLURAL_OF[kind]
        meta = obj.get("metadata", {})
        key = (meta.get("namespace") or "" if KINDS[plural][2] else "", meta["name"])
        with self._lock:
            if key in self.objects[plural]:
                raise KeyError(f"{kind} {key} exists")
            return self._commit("ADDED", plural, dict(obj))

    def update(self, kind: str, obj: Mapping[str, Any]) -> int:
        plural = PLURAL_OF[kind]
        meta = obj.get("metadata", {})
        key = (meta.get("namespace") or "" if KINDS[plural][2] else "", meta["name"])
        with self._lock:
            if key not in self.objects[plural]:
                raise KeyError(f"{kind} {key} does not exist")
            return self._commit("MODIFIED", plural, dict(obj))

    def delete(self, kind: str, namespace: str | None, name: str) -> int:
        plural = PLURAL_OF[kind]
        with self._lock:
            obj = self.objects[plural][(namespace or "", name)]
            return self._commit("DELETED", plural, obj)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.objects[PLURAL_OF[kind]][(namespace or "", name)])

    def load(self, kind: str, objects: Iterable[Mapping[str, Any]]) -> None:
        """Bulk-create objects with no history (as if compacted long ago): fast setup."""
        plural = PLURAL_OF[kind]
        kind_, api_version, _ = KINDS[plural]
        with self._lock:
            for raw in objects:
                self.rv += 1
                obj = dict(raw)
                obj["kind"], obj["apiVersion"] = kind_, api_version
                meta = dict(obj["metadata"])
                meta["resourceVersion"] = str(self.rv)
                obj["metadata"] = meta
                self.objects[plural][(meta.get("namespace") or "", meta["name"])] = obj
            self.compact()

    # --- faults ----------------------------------------------------------------------------
    def compact(self, rv: int | None = None) -> None:
        """Forget history up to `rv` (default: all of it); watching from before answers 410."""
        with self._lock:
            self.compacted_rv = self.rv if rv is None else rv
            self.history = [c for c in self.history if c.rv > self.compacted_rv]

    def drop_watches(self) -> None:
        """Abort every open watch stream mid-body (no clean end of the chunked response)."""
        with self._lock:
            self._generation += 1
        self._notify()

    def send_gone(self) -> None:
        """End every open watch stream with an ERROR 410 event."""
        with self._lock:
            self._gone_generation += 1
        self._notify()

    def silence(self, on: bool = True) -> None:
        """Keep streams open but send nothing, not even bookmarks (a half-open connection)."""
        self._silent = on
        if not on:
            self._notify()

    def down(self, on: bool = True) -> None:
        """Answer every request 503 and drop open streams (an apiserver restart)."""
        self._down = on
        if on:
            self.drop_watches()

    def _count(self, status: int) -> None:
        self.counters.statuses[status] = self.counters.statuses.get(status, 0) + 1

    def _index_after(self, rv: int) -> int:
        """The index of the first history entry with rv > `rv` (history is sorted)."""
        lo, hi = 0, len(self.history)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.history[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return lo
