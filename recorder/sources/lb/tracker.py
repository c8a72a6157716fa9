"""Successive looks at LB groups -> transitions with sampling bounds. Pure: no clock, no I/O.

A poller only knows that a change happened between two looks. For every target the tracker
emits `ADDED` when it first appears, `MODIFIED` when its payload (state, reason, weight, health
check port, node) changes, `DELETED` when it leaves the group (payload: the last one seen), and an
`OBSERVED` heartbeat when nothing changed for `heartbeat_s`, or when only the target's node
became known (the Node reached the recorder's view after the target's first look: that is no
change of the target). Every observation carries
`observed_at` = when this look's answer arrived and `previous_observed_at` = when the group's
previous successful look was asked (`started`), so the true change time lies in
`[previous_observed_at, observed_at]` even when a change races a request. A heartbeat
(`OBSERVED`) repeats a known state: its `observed_at` is when its look was asked
(`repeat_stamp`). A failed look changes
nothing: the next good look's bounds simply widen over the gap. The first look has no lower bound.
A group seeded from the store (`seed`: a restart) has one: the stored observation's time; the
first look's TargetHealth observations then carry `"resumed": true` (RESUMED), so a reader does
not take the stretch nobody of this process looked for the poll period (issue 17, as the
kube-proxy prober's first change after a restart).

A group's timing attributes become one `TargetGroupAttributes` observation when they change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.shape import GroupLook, Target, attributes_payload, target_payload

#: The source name the pollers write (docs/observation.md).
POLLER_SOURCE = "lb-poller"
#: A full look at an unchanged target is written at least this often (s), as the simulator's
#: `observe.heartbeat_s` and the kube-proxy prober do: it shows the poller was still looking.
DEFAULT_HEARTBEAT_S = 60.0
#: The payload field of a TargetHealth observation from this poller's first look at a group it
#: was seeded with (true): its `previous_observed_at` is a stored observation, not its own look.
#: Never part of what is compared (`seed` drops it from a stored payload).
RESUMED = "resumed"


@dataclass(slots=True)
class _Seen:
    payload: dict[str, Any]
    node: str | None
    emitted_at: datetime
    #: the stored observation this state was reloaded from, when this tracker had looked at the
    #: group before (`seed` after its transition was dropped, or for a target it had not seen):
    #: the target's next change is bounded by it, not by the group's last look, which did not
    #: see this state (it saw the dropped transition's). Cleared by a look that sees it.
    since: datetime | None = None


@dataclass(slots=True)
class _Group:
    last_start: datetime | None = None
    targets: dict[str, _Seen] = field(default_factory=dict)
    attributes: dict[str, Any] | None = None
    #: this tracker has looked at the group (`last_start` is a look of its own or newer)
    looked: bool = False


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """The Service a group serves (namespace/name), when known."""

    namespace: str | None = None
    name: str | None = None


#: A group whose Service is not known.
NO_SERVICE = ServiceKey()


def repeat_stamp(now: datetime, started: datetime | None, previous: datetime | None) -> datetime:
    """The `observed_at` of a heartbeat (`OBSERVED`): when its look was asked (`started`), not
    when the answer was read (`now`), and never before the look it names as previous. The
    answer came somewhere in between, and reading it may come long after (a stalled loop, an
    SDK retrying: 16-38 s simulated in the lab's traced soaks); a repeat stamped when it was
    read claimed the old state after the other replica's stored change, which replay read as the
    target back in service, and whose row or checkpoint, read back by a replica reloading its
    state, bounded the change by that time or let it store the change again
    (tests/lb/test_stale_heartbeat_replay.py). A transition is stamped `now`: its new state held
    by then."""
    if started is None:
        return now
    return min(now, started if previous is None else max(started, previous))


class Tracker:
    """Remembers the last look at each group; see the module docstring."""

    def __init__(
        self,
        *,
        cluster: str,
        source: str = POLLER_SOURCE,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.cluster = cluster
        self.source = source
        self.heartbeat = timedelta(seconds=heartbeat_s)
        self._groups: dict[str, _Group] = {}

    def observe(
        self,
        now: datetime,
        look: GroupLook,
        *,
        service: ServiceKey = NO_SERVICE,
        node_of: Callable[[Target], str | None] = lambda _t: None,
        started: datetime | None = None,
    ) -> list[Observation]:
        """The observations one look adds, in a stable order (attributes first, then by key).

        `now` is when the answer arrived, `started` when the request was sent (default `now`).
        """
        group = self._groups.setdefault(look.group, _Group())
        prev = group.last_start
        resumed = prev is not None and not group.looked
        out: list[Observation] = []
        asked = repeat_stamp(now, started, prev)

        def emit(
            kind: str,
            op: str,
            payload: dict[str, Any],
            node: str | None,
            previous: datetime | None = prev,
        ) -> datetime:
            if resumed and kind == "TargetHealth":
                payload = {**payload, RESUMED: True}
            out.append(
                Observation(
                    observed_at=asked if op == "OBSERVED" else now,
                    cluster=self.cluster,
                    source=self.source,
                    kind=kind,
                    op=op,
                    payload=payload,
                    namespace=service.namespace,
                    name=service.name,
                    node=node,
                    previous_observed_at=previous,
                )
            )
            return out[-1].observed_at

        attrs = attributes_payload(look)
        if look.attributes and attrs != group.attributes:
            emit(
                "TargetGroupAttributes",
                "ADDED" if group.attributes is None else "MODIFIED",
                attrs,
                None,
            )
            group.attributes = attrs

        current = {t.key: t for t in look.targets}
        for key in sorted(set(current) | set(group.targets)):
            old = group.targets.get(key)
            target = current.get(key)
            since = prev if old is None or old.since is None else old.since
            if target is None:
                assert old is not None
                emit("TargetHealth", "DELETED", old.payload, old.node, since)
                del group.targets[key]
                continue
            payload, node = target_payload(look, target), node_of(target)
            if old is None:
                op = "ADDED"
            elif old.payload == payload and old.node is None and node is not None:
                op = "OBSERVED"  # only its node became known (the Node reached the view later)
            elif old.payload != payload or old.node != node:
                op = "MODIFIED"
            elif now - old.emitted_at >= self.heartbeat:
                op = "OBSERVED"
            else:
                old.since = None  # this look saw the state: it bounds the next change
                continue
            emitted = emit("TargetHealth", op, payload, node, since)
            group.targets[key] = _Seen(payload, node, emitted)
        group.last_start = started if started is not None else now
        group.looked = True
        return out

    def differs(
        self, look: GroupLook, *, node_of: Callable[[Target], str | None] = lambda _t: None
    ) -> bool:
        """Whether `look` shows a target added, changed or gone (what `observe` would emit as a
        transition); mutates nothing."""
        group = self._groups.get(look.group)
        known = group.targets if group is not None else {}
        current = {t.key: t for t in look.targets}
        if set(current) != set(known):
            return True
        return any(
            known[key].payload != target_payload(look, target) or known[key].node != node_of(target)
            for key, target in current.items()
        )

    def seed(
        self, group: str, key: str, payload: dict[str, Any], node: str | None, at: datetime
    ) -> None:
        """A target's last stored observation (resuming after a restart, or before a look that
        shows a change: lb/laststate.py); the next look's changes are bounded by `at` (in a group
        this tracker looked at before, by `at` alone: its last look there did not see this
        state, `_Seen.since`). What this tracker itself emitted at or after `at` is newer and
        stays."""
        seen = self._groups.setdefault(group, _Group())
        mine = seen.targets.get(key)
        if mine is not None and mine.emitted_at >= at:
            return
        payload = {k: v for k, v in payload.items() if k != RESUMED}
        seen.targets[key] = _Seen(payload, node, at, at if seen.looked else None)
        if seen.last_start is None or seen.last_start < at:
            seen.last_start = at

    def seed_attributes(self, group: str, payload: dict[str, Any], at: datetime) -> None:
        """A group's last stored attributes: the next look reports them only if they differ
        (a MODIFIED), not as ADDED again; what this tracker saw itself stays."""
        seen = self._groups.setdefault(group, _Group())
        if seen.attributes is None:
            seen.attributes = payload
        if seen.last_start is None or seen.last_start < at:
            seen.last_start = at

    def seed_gone(self, group: str, key: str, at: datetime) -> None:
        """A target whose last stored observation (at `at`) is its DELETED: the next look does
        not report it leaving again, unless this tracker itself saw it after `at`."""
        seen = self._groups.get(group)
        mine = seen.targets.get(key) if seen is not None else None
        if seen is not None and mine is not None and mine.emitted_at < at:
            del seen.targets[key]

    def forget_target(self, group: str, key: str) -> None:
        """Drop what is known about one target (its transition was not stored: the next seed
        restores it from the store)."""
        seen = self._groups.get(group)
        if seen is not None:
            seen.targets.pop(key, None)

    def forget(self, group: str) -> None:
        """Drop what is known about a group (it is no longer polled)."""
        self._groups.pop(group, None)
