"""Resume without inventing transitions: the pollers' last stored state of every target.

Read when a poller starts, and again before a look that shows a change (poller.py), as the
kube-proxy prober does at start (kubeproxy/laststate.py): a restarted recorder, a second replica
starting beside the first, or a replica whose look was slow or failed while the other kept
looking, then reports a target it finds as it was stored as a continuation (a heartbeat when
due), not as `ADDED` again; a target that changed while nobody looked is a `MODIFIED` bounded by
the stored observation's time. Only the last `LOOKBACK_HEARTBEATS` heartbeats are read (the
`(cluster, observed_at)` index).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, select

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.sources.lb.tracker import POLLER_SOURCE, Tracker
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events

#: How many heartbeat periods back to look for a target's last state.
LOOKBACK_HEARTBEATS = 3

log = structlog.get_logger("gapwatch.recorder.lb")


def seed_tracker(
    tracker: Tracker, engine: Engine, *, cluster: str, now: datetime, heartbeat_s: float
) -> int:
    """Seed `tracker` with the last stored TargetHealth of every target still in its group;
    returns how many. A store that cannot be read seeds nothing (the first look then reports
    every target as ADDED, as before) and says so."""
    since = now - timedelta(seconds=LOOKBACK_HEARTBEATS * heartbeat_s)
    query = (
        select(events.c.op, events.c.node, events.c.observed_at, events.c.payload)
        .where(
            events.c.cluster == cluster,
            events.c.observed_at >= since,
            # what another replica stored after this look's answer is for the next look to see
            events.c.observed_at <= now,
            events.c.source == POLLER_SOURCE,
            events.c.kind == "TargetHealth",
        )
        .order_by(events.c.observed_at, events.c.id)
    )
    last: dict[tuple[str, str], tuple[str, str | None, datetime, Mapping[str, object]]] = {}
    try:
        with translate_errors(engine), engine.connect() as conn:
            for op, node, observed_at, payload in conn.execute(query):
                if not isinstance(payload, Mapping):
                    continue
                group, target = payload.get("TargetGroupArn"), payload.get("Target")
                if not isinstance(group, str) or not isinstance(target, Mapping):
                    continue
                key = f"{target.get('Id')}:{'' if target.get('Port') is None else target['Port']}"
                last[(group, key)] = (op, node, observed_at, payload)
    except StoreError as exc:
        log.warning("could not read the last LB states; starting afresh", error=str(exc))
        return 0
    seeded = 0
    for (group, key), (op, node, observed_at, payload) in last.items():
        if op == "DELETED":
            tracker.seed_gone(group, key, observed_at)
        else:
            tracker.seed(group, key, dict(payload), node, observed_at)
            seeded += 1
    return seeded
