"""The recorder derives again, in the background, the facts other code derived (recorder/
projector.py `rederive_step`, recorder/follow.py), range by range and resumable, and replay
rebuilds its projections once that is done. Both backends.

The store is one whose facts an older derive wrote (session 24's: `pending` for a readiness
loss, no revision recorded: a store migrated to 0011), so the windows read the old way until
the facts are derived again: tests/replay/test_readiness_loss.py's scenario."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.follow import follow
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.catchup import derived_by
from gapwatch.replay.facts import derive_all, write_facts
from tests.replay.test_readiness_loss import CBD, PGBD, _classes, _readiness_loss
from tests.store.samples import real_observations
from tests.store.test_writer import shifted


def _as_older_code_left_it(engine: Engine) -> int:
    """The scenario and more events, derived, then as session 24's derive and a recorder before
    0011 left them; the projections built on them. Returns the last event id."""
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(_readiness_loss())
    writer.write_all(shifted(real_observations(), 3600))
    with engine.begin() as conn:
        changed = conn.execute(text("UPDATE facts SET state = 'pending' WHERE state = 'unready'"))
        assert changed.rowcount == 1
        conn.execute(text("UPDATE projector_positions SET revision = NULL, revision_at = NULL"))
        last = int(conn.execute(text("SELECT max(id) FROM events")).scalar_one())
    projections.rebuild(engine)
    assert _n1(engine) == [("n1", PGBD)]
    return last


def _n1(engine: Engine) -> list[tuple[str, str]]:
    """The scenario's windows (the real observations added for length have their own)."""
    return [c for c in _classes(api.windows(engine)) if c[0] == "n1"]


def _facts(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT event_id, seq, fact, state, at_us FROM facts ORDER BY event_id, seq")
            )
        ]


def _derived_now(engine: Engine) -> list[tuple[object, ...]]:
    return [(f.event_id, f.seq, f.fact, f.state, f.at_us) for f in derive_all(iter_events(engine))]


def _range(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        low, high, done = conn.execute(
            text("SELECT other_from, other_to, rederived FROM projector_positions")
        ).one()
    return int(low), int(high), int(done)


def test_rederive_steps_move_up_the_range_resume_and_end_in_a_rebuild(engine: Engine) -> None:
    last = _as_older_code_left_it(engine)
    first = Projector(engine, write_facts)
    done, left = first.rederive_step(step=5)  # its hold marks every event, derives 5 of them
    low, high, count = _range(engine)
    assert (high, count, done) == (last, 0, 5) and 0 < low < high and left == high - low
    # the events below the range's lower end: this code's facts; above it: the old ones yet
    rows, expected = _facts(engine), _derived_now(engine)
    assert [r for r in rows if int(str(r[0])) <= low] == [
        r for r in expected if int(str(r[0])) <= low
    ]
    assert rows != expected  # the readiness loss's `pending` is above the range's lower end
    assert derived_by(engine).other == (low, last)
    # another process (a restart) resumes where the last committed step left it
    again = Projector(engine, write_facts)
    steps = 0
    while again.rederive_step(step=7)[1]:
        steps += 1
        assert _range(engine)[0] > low
        low = _range(engine)[0]
    assert steps >= 1
    assert _range(engine) == (0, 0, 1)
    assert _facts(engine) == _derived_now(engine)
    assert not derived_by(engine).mixed
    assert again.rederive_step() == (0, 0)  # nothing left: nothing done
    # the projections were built on the old facts: the next refresh rebuilds them, once
    with capture_logs() as logs:
        assert _n1(engine) == [("n1", CBD)]
        api.windows(engine)
    rebuilt = [
        e for e in logs if e["event"] == "facts were derived again: rebuilding the projections"
    ]
    assert len(rebuilt) == 1


def test_the_recorders_follow_task_rederives_in_the_background(engine: Engine) -> None:
    _as_older_code_left_it(engine)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follow(Projector(engine, write_facts), stop, poll_s=0.2))
        for _ in range(300):
            await asyncio.sleep(0.1)
            if _range(engine)[2] == 1:
                break
        stop.set()
        await asyncio.wait_for(task, 30)

    with capture_logs() as logs:
        asyncio.run(run())
    assert _range(engine) == (0, 0, 1)
    assert _facts(engine) == _derived_now(engine)
    said = [e["event"] for e in logs]
    assert "derived by other code" in said
    assert "re-derived what other code derived" in said
    assert _n1(engine) == [("n1", CBD)]


def test_a_step_on_a_current_store_writes_nothing(engine: Engine) -> None:
    """`follow` asks for a step after every catch-up (each writer batch's NOTIFY): on a store
    whose facts are all this code's it only looks. Before, every ask locked and touched the
    position row in a write transaction of its own."""
    EventWriter(engine, derive=write_facts).write(real_observations())

    def touched() -> object:
        with engine.connect() as conn:
            return conn.execute(text("SELECT updated_at FROM projector_positions")).scalar_one()

    before = touched()
    assert Projector(engine, write_facts).rederive_step() == (0, 0)
    assert touched() == before
