"""Transitions, not samples: which looks become observations. Pure (no I/O, no clock).

Every look at a target (one probe kind at one Service and node) is turned into a *state*: the
part of the answer that matters (`state_of`; never the latency or kube-proxy's own timestamps).
The tracker stores

- the first look at a target it knows nothing about (`look: "first"`);
- a change (`look: "change"`), with `previous_observed_at` = when the last look that saw the old
  state *started*, and `observed_at` = when the first look that saw the new state *ended*: the
  true change lies inside, and the bounds are at most one interval plus one timeout wide;
- the unchanged state once every `heartbeat_s` (`look: "heartbeat"`, with
  `previous_observed_at` = when the look before it started, which saw the same state, and
  `observed_at` = when its own look *started*: a repeat claims the state no later than its
  look's answer, `stamp`), so a reader knows the prober was looking, and how often;
- the last look at a target it stops looking at (`forget`: the Node deleted, the Service gone),
  when that look was not stored (`look: "last"`, bounded as a heartbeat is): the log then says
  what the target answered until the prober left it. Without it, the looks since the last
  stored row left no trace: 17,000,089's node answered 503 for 25 s before its deletion, the
  log held nothing after -15 s, and replay read the node down from the window's start
  (docs/semantics.md, "The last look").

`seed` loads the last stored state of a target (after a restart): a first look that sees the
same state is then no transition but is stored once (`look: "resume"`, with
`previous_observed_at` = the stored observation's time), and one that sees another is a change
bounded by the stored observation's time, marked `"resumed": true` (RESUMED). Either way the log
shows that this prober was not looking in between: when every replica was down, nothing else
says so; and a reader does not take that stretch for the probe period (issue 17: a restarted
prober's first change named the stored look 53-58 s back, replay.proxy.probe_period).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gapwatch.recorder.observation import Observation, canonical_json

SOURCE = "kube-proxy-probe"
#: The kinds whose looks are tracked as transitions.
TRACKED_KINDS = ("ProxyHealth", "NodePortProbe", "ProxyNodeHealth")
#: The payload field a restarted prober's first change carries (true): its
#: `previous_observed_at` is the stored observation it resumed from, not a look of its own.
RESUMED = "resumed"
#: `look` of the observation `forget` returns: the last look at a target no longer probed.
LAST = "last"


@dataclass(frozen=True, slots=True, order=True)
class TargetKey:
    """One thing looked at: a probe kind at a Service (or none) on a node; `path` for
    ProxyNodeHealth (/healthz or /livez)."""

    kind: str
    node: str
    namespace: str | None = None
    name: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Look:
    """One finished look: when it started and ended (observer's clock) and the payload."""

    key: TargetKey
    started_at: datetime
    finished_at: datetime
    payload: Mapping[str, Any]


def state_of(kind: str, payload: Mapping[str, Any]) -> str:
    """The part of a payload whose change is a transition (canonical JSON text)."""
    if kind == "NodePortProbe":
        parts: list[Any] = [payload.get("result"), payload.get("port")]
    elif kind == "ProxyNodeHealth":
        body = payload.get("body")
        eligible = body.get("nodeEligible") if isinstance(body, Mapping) else None
        parts = [payload.get("status"), payload.get("error"), eligible, payload.get("port")]
    else:
        parts = [
            payload.get("status"),
            payload.get("error"),
            payload.get("body"),
            payload.get("body_text"),
            payload.get("weight"),
            payload.get("port"),
        ]
    return canonical_json(parts)


#: The looks stored because they saw a state the tracker did not know: stamped when they
#: ended. Every other (`heartbeat`, `resume`, `last`) repeats the known state: stamped when it
#: began (`stamp`).
NEW_STATE = ("first", "change")


def stamp(look: Look, why: str, previous: datetime | None) -> datetime:
    """A stored look's `observed_at`: when it ended if it saw a new state (`first`, `change`:
    the new state held by then), when it began if it repeats the known one (never before the
    row it names as `previous_observed_at`). A look's answer came somewhere in between, and its
    end may come long after (a loop stalled between the answer and the clock's reading: 7.5 s in
    tests/kubeproxy/test_stale_heartbeat.py); a repeat stamped at its end claimed the old state
    after the other replica's stored change, which replay read as a change back, and whose
    checkpoint, read back after a dropped change, bounded the change by that end
    (tests/kubeproxy/test_stale_heartbeat_replay.py). A change is bounded by the start of the last
    look that saw the old state (the module docstring): a repeat's row says no more than that."""
    if why in NEW_STATE:
        return look.finished_at
    return look.started_at if previous is None else max(look.started_at, previous)


@dataclass(slots=True)
class _Seen:
    state: str
    #: start of the last look that saw `state`
    last_look_started: datetime
    #: observed_at of the last observation stored for this target
    last_stored: datetime
    #: loaded from the store (`seed`), not yet looked at by this prober
    seeded: bool = False
    #: the last look, when it was not stored, and the start of the look before it (which saw
    #: the same state): what `forget` stores
    unstored: tuple[Look, datetime] | None = None


class TransitionTracker:
    """See the module docstring."""

    def __init__(self, *, cluster: str, heartbeat_s: float, source: str = SOURCE) -> None:
        self.cluster = cluster
        self.source = source
        self.heartbeat_s = heartbeat_s
        self._seen: dict[TargetKey, _Seen] = {}

    def seed(self, key: TargetKey, payload: Mapping[str, Any], observed_at: datetime) -> None:
        """The last stored observation of `key` (resuming after a restart)."""
        self._seen[key] = _Seen(state_of(key.kind, payload), observed_at, observed_at, True)

    def differs(self, look: Look) -> bool:
        """Whether `look` shows a known target in another state than this tracker last knew."""
        seen = self._seen.get(look.key)
        return seen is not None and state_of(look.key.kind, look.payload) != seen.state

    def adopt(self, key: TargetKey, payload: Mapping[str, Any], observed_at: datetime) -> None:
        """A stored observation of `key` newer than what this tracker knows (the other replica's,
        committed after this one loaded or looked): its state is the one the next look is
        compared with, bounded by its time, so a change already stored is not stored again."""
        seen = self._seen.get(key)
        if seen is None or observed_at <= seen.last_look_started:
            return  # not newer than this tracker's own last look: it would only widen bounds
        state = state_of(key.kind, payload)
        if state == seen.state:
            return
        seen.state, seen.last_look_started = state, observed_at
        seen.last_stored = max(seen.last_stored, observed_at)
        seen.unstored = None  # a look at a state the store has since left: not the last word

    def restore(self, key: TargetKey, payload: Mapping[str, Any], observed_at: datetime) -> None:
        """The stored last observation of `key`, after this tracker's own change was dropped
        (the store held another state than the one it was made from: writer.Guard): the next
        look is compared with what is stored, whatever this tracker believed."""
        self._seen[key] = _Seen(state_of(key.kind, payload), observed_at, observed_at)

    def forget(self, key: TargetKey) -> Observation | None:
        """Stop tracking a target that is no longer probed: the observation to store of its
        last look (`look: "last"`), when that look was not stored; else None. Once only: the
        target is dropped, and a restart seeds from the store, which holds no unstored look."""
        seen = self._seen.pop(key, None)
        if seen is None or seen.unstored is None:
            return None
        look, previous = seen.unstored
        return self._observation(look, LAST, previous)

    def known(self) -> set[TargetKey]:
        return set(self._seen)

    def see(self, look: Look) -> Observation | None:
        """The observation to store for `look`, or None when it shows nothing new."""
        state = state_of(look.key.kind, look.payload)
        seen = self._seen.get(look.key)
        if seen is None:
            self._seen[look.key] = _Seen(state, look.started_at, look.finished_at)
            return self._observation(look, "first", None)
        resumed, seen.seeded, seen.unstored = seen.seeded, False, None
        if state != seen.state:
            previous = min(seen.last_look_started, look.started_at)
            seen.state, seen.last_look_started = state, look.started_at
            seen.last_stored = look.finished_at
            return self._observation(look, "change", previous, resumed=resumed)
        if resumed:
            previous, seen.last_look_started = seen.last_stored, look.started_at
            observation = self._observation(look, "resume", previous)
            seen.last_stored = observation.observed_at
            return observation
        previous, seen.last_look_started = seen.last_look_started, look.started_at
        if (look.finished_at - seen.last_stored).total_seconds() >= self.heartbeat_s:
            # the look before it saw the same state: a reader's sampling period is the gap
            # between looks, not between stored rows (replay.proxy.probe_period)
            observation = self._observation(look, "heartbeat", min(previous, look.started_at))
            seen.last_stored = observation.observed_at
            return observation
        seen.unstored = (look, min(previous, look.started_at))
        return None

    def _observation(
        self, look: Look, why: str, previous: datetime | None, *, resumed: bool = False
    ) -> Observation:
        payload = {**look.payload, "look": why}
        if resumed:
            payload[RESUMED] = True
        return Observation(
            observed_at=stamp(look, why, previous),
            cluster=self.cluster,
            source=self.source,
            kind=look.key.kind,
            op="OBSERVED",
            payload=payload,
            namespace=look.key.namespace,
            name=look.key.name,
            node=look.key.node,
            previous_observed_at=previous,
        )
