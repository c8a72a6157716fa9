"""The number of events in the store, for the sidebar, without a pass over the log each time.

`SELECT count(*) FROM events` reads the whole log: 74-86 ms of CPU a look on the 1.1M-event
`large` store, on every page of a dashboard whose recorder keeps writing (each new event is a
new version of the store). The log only grows at its end and only shrinks from its beginning:
ids are handed out in commit order and never reused (the writer locks `events` per batch;
SQLite's AUTOINCREMENT, migration 0012), and the one way events leave is retention, which
deletes every event of a cluster observed before a cutoff, so a cluster it touches has a later
first event afterwards. So the count of the last look plus the events with a higher id is the
count, as long as the clusters and their first events are those of the last look and the event
the last look ended at is still there, the same one (a store replaced at the same URL); else it
is counted again. The counts are kept per store URL for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from gapwatch.recorder.tables import events


class Counted(NamedTuple):
    """One look: the events up to `last_id`, and what must not have changed for it to stand."""

    events: int
    last_id: int
    last_key: str | None
    firsts: tuple[tuple[str, Any], ...]


_LOOKS: dict[str, Counted] = {}
_LOCK = threading.Lock()


def count_events(
    conn: Connection, store: str, last_id: int, firsts: Sequence[tuple[str, Any]]
) -> int:
    """The events in the store up to `last_id` (its highest id, read in the same transaction
    as `firsts`: each cluster and its first event's time), from the last look at `store` where
    it still stands, else counted."""
    e = events.c
    key = conn.execute(select(e.dedupe_key).where(e.id == last_id)).scalar()
    with _LOCK:
        before = _LOOKS.get(store)
    look = Counted(0, last_id, key, tuple(firsts))
    if before is not None and _stands(conn, before, look):
        added = conn.execute(
            select(func.count()).where(e.id > before.last_id, e.id <= last_id)
        ).scalar_one()
        count = before.events + int(added)
    else:
        count = int(conn.execute(select(func.count()).where(e.id <= last_id)).scalar_one())
    with _LOCK:
        _LOOKS[store] = Counted(count, last_id, key, look.firsts)
    return count


def _stands(conn: Connection, before: Counted, now: Counted) -> bool:
    if before.firsts != now.firsts or now.last_id < before.last_id:
        return False
    if before.last_id == 0:
        return True
    e = events.c
    key = conn.execute(select(e.dedupe_key).where(e.id == before.last_id)).scalar()
    return key is not None and key == before.last_key


def forget(store: str | None = None) -> None:
    """Drop the looks kept (of one store, or all): the next count reads the log."""
    with _LOCK:
        if store is None:
            _LOOKS.clear()
        else:
            _LOOKS.pop(store, None)
