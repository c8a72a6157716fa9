"""When the API server wrote a Kubernetes object's version, as far as the object itself says.

The recorder stamps each change with its own time (`observed_at`): a watch that stalls or
drops for 40 s moves every change it then delivers by 40 s. Most objects carry times of
their own, written by the API server's clock in whole seconds (metav1.Time):

- `metadata.managedFields[].time`: set to the write's time for the manager whose fields the
  write changed (kube-controller-manager for an EndpointSlice, the kubelet for a Pod's or
  Node's status). Every write that changes an object changes some manager's fields (a write
  that changes nothing is no new version), so the newest entry is the write itself;
- `metadata.deletionTimestamp` minus `deletionGracePeriodSeconds`: the DELETE that made the
  object terminating (a DELETE does not touch managedFields);
- `metadata.creationTimestamp`: the create;
- `status.conditions[].lastTransitionTime`: a condition's change (a write at or after it).

`write_stamp_us` is the newest of those where the object has `managedFields` (then the newest
stamp is the write of this version, to the second): the change lies in
[stamp, stamp + `STAMP_RESOLUTION_US`), on the API server's clock, and never after it was
observed. Without managedFields (a recorder that trims them, a `kubectl get` capture) or for a
DELETED (its final write, the removal, is stamped nowhere) it is None: the observer's time is
all there is. Every time is text of one fixed form, so the newest is found by comparing text
and parsed once. Pure.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gapwatch.recorder.timefmt import parse_time, to_micros

#: Resolution of Kubernetes object timestamps (metav1.Time is serialized in whole seconds).
STAMP_RESOLUTION_US = 1_000_000


def _texts(payload: Mapping[str, Any], meta: Mapping[str, Any]) -> Iterator[Any]:
    yield meta.get("creationTimestamp")
    fields = meta.get("managedFields")
    for entry in fields if isinstance(fields, list) else ():
        if isinstance(entry, Mapping):
            yield entry.get("time")
    status = payload.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for cond in conditions if isinstance(conditions, list) else ():
        if isinstance(cond, Mapping):
            yield cond.get("lastTransitionTime")


def _us(text: str) -> int | None:
    try:
        return to_micros(parse_time(text))
    except ValueError:
        return None


def write_stamp_us(op: str, payload: Mapping[str, Any]) -> int | None:
    """When the API server wrote this version (whole seconds, its clock), or None when the
    object does not say (no managedFields, or a DELETED: see the module docstring)."""
    meta = payload.get("metadata")
    if op == "DELETED" or not isinstance(meta, Mapping) or not meta.get("managedFields"):
        return None
    # one form (2026-11-25T09:00:01Z): the newest text is the newest time
    texts = [t for t in _texts(payload, meta) if isinstance(t, str) and t]
    best = _us(max(texts)) if texts else None
    deletion = meta.get("deletionTimestamp")
    grace = meta.get("deletionGracePeriodSeconds")
    if isinstance(deletion, str) and isinstance(grace, int) and not isinstance(grace, bool):
        requested = _us(deletion)
        if requested is not None:
            requested -= grace * 1_000_000
            best = requested if best is None else max(best, requested)
    return best


@dataclass(slots=True)
class Late:
    """How late one object's stamped changes were seen (microseconds)."""

    #: changes stamped during the recording
    stamped: int = 0
    #: the largest (lane time - stamp): how late a lane time may lie after its change
    bound_max_us: int = 0
    #: the largest (observed - stamp): the watch delay, an upper bound per change
    raw_max_us: int = 0
    #: changes observed before their stamp (the recorder's clock behind the API server's)
    behind: int = 0


@dataclass(slots=True)
class StampedTimes:
    """The fold's record of stamped changes: per group (a Service's slices, a namespace's
    pods, a cluster's nodes) its first observation; per object, how late its changes were."""

    first: dict[Hashable, int] = field(default_factory=dict)
    late: dict[Hashable, Late] = field(default_factory=dict)


def bounded_at(observed_us: int, stamp_us: int | None) -> int:
    """The latest instant the change can have happened: its observation, or the end of its
    stamp's second when that is earlier (a watch that delivered it late)."""
    if stamp_us is None:
        return observed_us
    return min(observed_us, stamp_us + STAMP_RESOLUTION_US)


def written_from(at_us: int) -> int:
    """The earliest instant the change at lane time `at_us` can have been written: a stamp's
    second before it (`bounded_at` is at most the end of the stamp's second; a change seen
    without a stamp is read the same way, its write before its observation). What lies after
    a write (a pod's death after the last update that saw it up) lies after this, not after
    the lane time, which is the write's latest instant (rule AR, session 34; session 35)."""
    return at_us - STAMP_RESOLUTION_US


def own_time(
    times: StampedTimes, group: Hashable, key: Hashable, observed_us: int, stamp_us: int | None
) -> int:
    """The lane time of one change: `bounded_at`, but never before the group's first
    observation (the initial list's objects were written before the recording: their state
    held then, their stamps say nothing about the recording), recorded in `times`."""
    first = times.first.setdefault(group, observed_us)
    if stamp_us is None:
        return observed_us
    at = bounded_at(observed_us, stamp_us)
    if at <= first:
        return max(at, first)
    late = times.late.get(key)
    if late is None:
        late = times.late[key] = Late()
    late.stamped += 1
    late.bound_max_us = max(late.bound_max_us, at - stamp_us)
    late.raw_max_us = max(late.raw_max_us, observed_us - stamp_us)
    late.behind += observed_us < stamp_us
    return at
