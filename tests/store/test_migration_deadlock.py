"""An upgrade beside an ANALYZE of `events` (autovacuum's, on a live store): no deadlock.

Seen on the shared test server in session 36 (`deadlock detected`: the upgrade's `LOCK TABLE
events IN ACCESS EXCLUSIVE MODE` waited for an `autovacuum: ANALYZE public.events`, which waited
for the upgrade's transaction): migration 0005's GRANT had updated `events`' pg_class row earlier
in the same transaction, and PostgreSQL (15.9 on) makes ANALYZE's in-place update of that row wait
for the transaction that updated it, while the ANALYZE holds the SHARE UPDATE EXCLUSIVE lock that
0007's LOCK waits for: a cycle, and one of the two is cancelled. Real PostgreSQL; the autovacuum
worker is stood in for by a second session running the same `ANALYZE events`, started at the
moment of the upgrade's first lock on `events`, as autovacuum starts when it likes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.store import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts

pytestmark = pytest.mark.postgres

LOCK_EVENTS = "LOCK TABLE events IN ACCESS EXCLUSIVE MODE"


def _analyze_beside(engine: Engine, outcome: dict[str, Any]) -> threading.Thread:
    def analyze() -> None:
        try:
            with engine.connect() as conn:
                outcome["pid"] = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                conn.execute(text("ANALYZE events"))
                conn.commit()
            outcome["done"] = True
        except Exception as exc:  # the deadlock's victim may be this session
            outcome["error"] = exc

    thread = threading.Thread(target=analyze, daemon=True)
    thread.start()
    return thread


def _until_waiting_or_done(engine: Engine, outcome: dict[str, Any]) -> None:
    """Until the ANALYZE waits for a lock (or ended): what autovacuum holds then."""
    deadline = time.monotonic() + 30
    with engine.connect() as watch:
        while time.monotonic() < deadline:
            if "done" in outcome or "error" in outcome:
                return
            pid = outcome.get("pid")
            if pid is not None:
                waiting = watch.execute(
                    text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                    {"p": pid},
                ).scalar()
                if waiting:
                    return
            watch.rollback()
            time.sleep(0.05)
    raise AssertionError("the ANALYZE neither waited nor ended in 30 s")


@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_a_migration_and_an_analyze_of_events_both_finish(pg_url: str, direction: str) -> None:
    """Upgrade from 0002 (0005 grants on `events` before 0007 locks it) and downgrade to 0002
    (0010 revokes before 0007 locks): each beside an ANALYZE begun at its first lock of
    `events`; both finish, the migration at its revision."""
    engine = make_engine(pg_url)
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario("seed-3node"), seed=2).observations
    )
    if direction == "upgrade":
        downgrade(engine, "0002")
    beside = make_engine(pg_url)
    outcome: dict[str, Any] = {}
    threads: list[threading.Thread] = []

    def at_the_first_lock(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip() == LOCK_EVENTS and not threads:
            threads.append(_analyze_beside(beside, outcome))
            _until_waiting_or_done(beside, outcome)

    event.listen(engine, "before_cursor_execute", at_the_first_lock)
    try:
        if direction == "upgrade":
            upgrade(engine)
        else:
            downgrade(engine, "0002")
    finally:
        event.remove(engine, "before_cursor_execute", at_the_first_lock)
        for thread in threads:
            thread.join(timeout=60)
        beside.dispose()
        engine.dispose()
    assert threads, "the migration never locked events"
    want = head_revision() if direction == "upgrade" else "0002"
    assert current_revision(make_engine(pg_url)) == want
    assert "error" not in outcome, outcome.get("error")
    assert outcome.get("done")
