"""Resume without inventing transitions: the pollers' last stored state of every target, whatever
its age.

Read when a poller starts, and again before a look that shows a change (poller.py), as the
kube-proxy prober does at start (kubeproxy/laststate.py): a restarted recorder, a second replica
starting beside the first, or a replica whose look was slow or failed while the other kept
looking, then reports a target it finds as it was stored as a continuation (a heartbeat when
due), not as `ADDED` again; a target that changed while nobody looked is a `MODIFIED` bounded by
the stored observation's time; one that left is a `DELETED` with the same bound.

A transition is keyed by what changed, not by how long nobody looked. Two reads, the newer wins
per target:

- the pollers' **checkpoints** (`source_checkpoints`, one row per target and one per group's
  attributes, written with every observation a poller stores, in the same transaction:
  `checkpoint_of`). A checkpoint replaces only an older one (`Checkpoint.at`): two replicas
  committing out of order keep the newest. Before them, a blind stretch longer than the
  look-back (the lab's `sigkill-all`: 137-336 simulated s against 180 s) brought every target
  back as `ADDED`: 11 duplicated transitions in 5 runs.
- the events of the last `LOOKBACK_HEARTBEATS` heartbeats (the `(cluster, observed_at)` index),
  for a store written before the checkpoints existed.

Both stop at `now` (the look's answer): what another replica stored after it is for the next
look to see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, select

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.tracker import POLLER_SOURCE, Tracker
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import format_time, parse_time
from gapwatch.recorder.writer import Checkpoint, load_checkpoints

#: How many heartbeat periods back to look for a target's last state in the events.
LOOKBACK_HEARTBEATS = 3
#: Checkpoint keys: a target's last state, a group's last attributes.
TARGET_PREFIX = "target:"
ATTRIBUTES_PREFIX = "attributes:"

log = structlog.get_logger("gapwatch.recorder.lb")

#: (group, target key) -> (op, node, observed_at, payload)
Last = dict[tuple[str, str], tuple[str, str | None, datetime, Mapping[str, Any]]]


def target_key(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(group, target key inside it) of a TargetHealth payload."""
    group, target = payload.get("TargetGroupArn"), payload.get("Target")
    if not isinstance(group, str) or not isinstance(target, Mapping):
        return None
    port = target.get("Port")
    return group, f"{target.get('Id')}:{'' if port is None else port}"


def checkpoint_of(obs: Observation) -> Checkpoint | None:
    """The checkpoint stored with one of a poller's observations (None: not a target's nor a
    group's attributes)."""
    value: dict[str, Any] = {
        "op": obs.op,
        "node": obs.node,
        "observed_at": format_time(obs.observed_at),
        "payload": obs.payload,
    }
    if obs.kind == "TargetGroupAttributes":
        group = obs.payload.get("TargetGroupArn")
        if not isinstance(group, str):
            return None
        key = ATTRIBUTES_PREFIX + group
    else:
        found = target_key(obs.payload)
        if found is None:
            return None
        key = f"{TARGET_PREFIX}{found[0]}|{found[1]}"
    return Checkpoint(obs.cluster, obs.source, key, value, at=obs.observed_at)


def _checkpoints(
    engine: Engine, cluster: str, now: datetime, stored: dict[str, Any] | None = None
) -> tuple[Last, dict[str, tuple[datetime, Mapping[str, Any]]]]:
    targets: Last = {}
    attributes: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
    for key, value in load_checkpoints(engine, cluster, POLLER_SOURCE).items():
        if not isinstance(value, Mapping) or not isinstance(value.get("payload"), Mapping):
            continue
        try:
            at = parse_time(str(value["observed_at"]))
        except (KeyError, ValueError):
            continue
        if at > now:
            continue
        if stored is not None:
            stored[key] = value
        payload: Mapping[str, Any] = value["payload"]
        if key.startswith(ATTRIBUTES_PREFIX):
            attributes[key[len(ATTRIBUTES_PREFIX) :]] = (at, payload)
        elif key.startswith(TARGET_PREFIX) and (found := target_key(payload)) is not None:
            node = value.get("node")
            targets[found] = (
                str(value.get("op")),
                node if isinstance(node, str) else None,
                at,
                payload,
            )
    return targets, attributes


def seed_tracker(
    tracker: Tracker,
    engine: Engine,
    *,
    cluster: str,
    now: datetime,
    heartbeat_s: float,
    stored: dict[str, Any] | None = None,
) -> int:
    """Seed `tracker` with the last stored TargetHealth of every target still in its group (and
    each group's last attributes); returns how many targets. A store that cannot be read seeds
    nothing (the first look then reports every target as ADDED, as before) and says so.
    `stored`, when given, receives the checkpoint values read, by key (the bases of the next
    guarded changes: poller.py)."""
    since = now - timedelta(seconds=LOOKBACK_HEARTBEATS * heartbeat_s)
    query = (
        select(events.c.op, events.c.node, events.c.observed_at, events.c.payload)
        .where(
            events.c.cluster == cluster,
            events.c.observed_at >= since,
            events.c.observed_at <= now,
            events.c.source == POLLER_SOURCE,
            events.c.kind == "TargetHealth",
        )
        .order_by(events.c.observed_at, events.c.id)
    )
    try:
        last, attributes = _checkpoints(engine, cluster, now, stored)
        with translate_errors(engine), engine.connect() as conn:
            for op, node, observed_at, payload in conn.execute(query):
                found = target_key(payload) if isinstance(payload, Mapping) else None
                if found is not None and (found not in last or last[found][2] <= observed_at):
                    last[found] = (op, node, observed_at, payload)
    except StoreError as exc:
        log.warning("could not read the last LB states; starting afresh", error=str(exc))
        return 0
    for group, (at, payload) in attributes.items():
        tracker.seed_attributes(group, dict(payload), at)
    seeded = 0
    for (group, key), (op, node, observed_at, payload) in last.items():
        if op == "DELETED":
            tracker.seed_gone(group, key, observed_at)
        else:
            tracker.seed(group, key, dict(payload), node, observed_at)
            seeded += 1
    return seeded


def store_resume(
    engine: Engine, cluster: str, heartbeat_s: float
) -> Callable[[Tracker, datetime], dict[str, Any]]:
    """A poller's `resume` (poller.Resume): seed its tracker from `engine`'s last states of
    `cluster`, and hand back the checkpoint values read. The recorder's pollers and `gapwatch
    poll` both take it."""

    def resume(tracker: Tracker, now: datetime) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        seed_tracker(
            tracker, engine, cluster=cluster, now=now, heartbeat_s=heartbeat_s, stored=stored
        )
        return stored

    return resume
