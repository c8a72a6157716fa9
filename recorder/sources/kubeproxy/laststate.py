"""Resume without inventing transitions: the last stored look of every target.

Read once when the prober starts. Every target the prober was looking at has an observation (a
change or a heartbeat) within the last `heartbeat_s`, so only the events of the last
`LOOKBACK_HEARTBEATS` heartbeats are read (the `(cluster, observed_at)` index): a month of
history costs nothing at start. A target last stored before that is looked at afresh (`first`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from gapwatch.recorder.sources.kubeproxy.tracker import SOURCE, TRACKED_KINDS, TargetKey
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events

#: How many heartbeat periods back to look for a target's last state.
LOOKBACK_HEARTBEATS = 3


def key_of(
    kind: str, namespace: str | None, name: str | None, node: str, payload: Mapping[str, Any]
) -> TargetKey:
    """The TargetKey a stored observation belongs to."""
    path = payload.get("path") if kind == "ProxyNodeHealth" else None
    return TargetKey(kind, node, namespace, name, path if isinstance(path, str) else None)


def load_last(
    engine: Engine, *, cluster: str, now: datetime, heartbeat_s: float, source: str = SOURCE
) -> dict[TargetKey, tuple[Mapping[str, Any], datetime]]:
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
    out: dict[TargetKey, tuple[Mapping[str, Any], datetime]] = {}
    with translate_errors(engine), engine.connect() as conn:
        for kind, namespace, name, node, observed_at, payload in conn.execute(query):
            if isinstance(payload, Mapping):
                out[key_of(kind, namespace, name, node, payload)] = (payload, observed_at)
    return out
