"""Resume without inventing transitions: the last stored look of every target, whatever its age.

Two reads, the newer wins per target:

- the prober's **checkpoints** (`source_checkpoints`, one row per target, written with every
  observation it stores, in the same transaction: `checkpoint_of`): the last stored state of
  every target ever probed, however long nobody looked (both replicas killed for minutes, a
  recorder down for a day). A checkpoint replaces only an older one (`Checkpoint.at`), so two
  replicas committing out of order keep the newest. One row per target: a month of history
  costs nothing at start.
- the events of the last `LOOKBACK_HEARTBEATS` heartbeats (the `(cluster, observed_at)` index),
  for a store written before the checkpoints existed.

A target found in neither is looked at afresh (`first`). Before the checkpoints, a target last
stored more than three heartbeats ago was a `first` look after a restart: the lab's
`sigkill-all` fault (blind stretches of 137-336 simulated s) showed it as a gap the log did not
show.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from gapwatch.recorder.observation import Observation, canonical_json
from gapwatch.recorder.sources.kubeproxy.tracker import SOURCE, TRACKED_KINDS, TargetKey
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events, source_checkpoints
from gapwatch.recorder.timefmt import format_time, parse_time
from gapwatch.recorder.writer import Checkpoint, load_checkpoints

#: How many heartbeat periods back to look for a target's last state in the events.
LOOKBACK_HEARTBEATS = 3
#: The checkpoint keys of the prober's targets start with this.
CHECKPOINT_PREFIX = "last:"

Last = dict[TargetKey, tuple[Mapping[str, Any], datetime]]


def key_of(
    kind: str, namespace: str | None, name: str | None, node: str, payload: Mapping[str, Any]
) -> TargetKey:
    """The TargetKey a stored observation belongs to."""
    path = payload.get("path") if kind == "ProxyNodeHealth" else None
    return TargetKey(kind, node, namespace, name, path if isinstance(path, str) else None)


def _checkpoint_key(key: TargetKey) -> str:
    return CHECKPOINT_PREFIX + canonical_json(
        [key.kind, key.node, key.namespace, key.name, key.path]
    )


def value_of(payload: Mapping[str, Any], observed_at: datetime) -> dict[str, Any]:
    """A target's checkpoint value: its last stored look (the base of a guarded change)."""
    return {"observed_at": format_time(observed_at), "payload": payload}


def checkpoint_of(key: TargetKey, observation: Observation) -> Checkpoint:
    """The checkpoint stored with `observation` (a look at `key`): its state and time, which
    orders it against the stored one. A repeat of the known state (heartbeat, resume, last look)
    is stamped when its look began (tracker.stamp): a look that began before the other replica's
    change and ended after it (a stalled loop) no longer replaces the change's checkpoint, nor
    lets this replica store the change a second time (tests/kubeproxy/test_stale_heartbeat.py)."""
    value = value_of(observation.payload, observation.observed_at)
    return Checkpoint(observation.cluster, observation.source, _checkpoint_key(key), value,
                      at=observation.observed_at)  # fmt: skip


def _from_checkpoints(engine: Engine, cluster: str, source: str) -> Last:
    out: Last = {}
    for raw_key, value in load_checkpoints(engine, cluster, source).items():
        if not raw_key.startswith(CHECKPOINT_PREFIX) or not isinstance(value, Mapping):
            continue
        try:
            kind, node, namespace, name, path = _parse_key(raw_key)
            at = parse_time(str(value["observed_at"]))
        except (KeyError, ValueError, TypeError):
            continue  # not one of ours (or from a newer version): look afresh
        payload = value.get("payload")
        if isinstance(payload, Mapping):
            out[TargetKey(kind, node, namespace, name, path)] = (payload, at)
    return out


def checkpoint_value(engine: Engine, *, cluster: str, key: str, source: str = SOURCE) -> Any:
    """One stored checkpoint's value (a key lookup), None when there is none."""
    query = select(source_checkpoints.c.value).where(
        source_checkpoints.c.cluster == cluster,
        source_checkpoints.c.source == source,
        source_checkpoints.c.key == key,
    )
    with translate_errors(engine), engine.connect() as conn:
        return conn.execute(query).scalar()


def load_one(
    engine: Engine, *, cluster: str, key: TargetKey, source: str = SOURCE
) -> tuple[Mapping[str, Any], datetime] | None:
    """The stored last (payload, observed_at) of one target (its checkpoint: a key lookup)."""
    value = checkpoint_value(engine, cluster=cluster, key=_checkpoint_key(key), source=source)
    if not isinstance(value, Mapping) or not isinstance(value.get("payload"), Mapping):
        return None
    try:
        return value["payload"], parse_time(str(value["observed_at"]))
    except (KeyError, ValueError):
        return None


def _parse_key(raw: str) -> tuple[str, str, str | None, str | None, str | None]:
    import orjson

    kind, node, namespace, name, path = orjson.loads(raw[len(CHECKPOINT_PREFIX) :])
    if not isinstance(kind, str) or not isinstance(node, str):
        raise ValueError(raw)
    return kind, node, namespace, name, path


def load_last(
    engine: Engine, *, cluster: str, now: datetime, heartbeat_s: float, source: str = SOURCE
) -> Last:
    """The last stored (payload, observed_at) of each target of `source` in `cluster`."""
    since = now - timedelta(seconds=LOOKBACK_HEARTBEATS * heartbeat_s)
    query = (
        select(
            events.c.kind,
            events.c.namespace,
            events.c.name,
            events.c.node,
            events.c.observed_at,
            events.c.payload,
        )
        .where(
            events.c.cluster == cluster,
            events.c.observed_at >= since,
            events.c.source == source,
            events.c.kind.in_(TRACKED_KINDS),
            events.c.node.is_not(None),
        )
        .order_by(events.c.observed_at, events.c.id)
    )
    out = _from_checkpoints(engine, cluster, source)
    with translate_errors(engine), engine.connect() as conn:
        for kind, namespace, name, node, observed_at, payload in conn.execute(query):
            if not isinstance(payload, Mapping):
                continue
            key = key_of(kind, namespace, name, node, payload)
            if key not in out or out[key][1] <= observed_at:
                out[key] = (payload, observed_at)
    return out
