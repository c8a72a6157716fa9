"""The projector: derived tables follow the `events` log by id, after the events commit.

A projector has a name and a `derive` function (the composition root hands replay's
`write_facts`; the recorder does not import replay). It keeps its position in
`projector_positions`: every event with an id at or below it has been derived. One step, one
transaction:

1. `UPDATE projector_positions` for its name: the row lock (the database lock on SQLite) makes a
   second projector of the same name wait, then see the moved position;
2. the events above the position, by id (or rows the caller already holds, see `apply`);
3. `derive(conn, rows)`, and the position moved to the last id, committed together.

So re-running over the same ids writes nothing twice, and a crash between the writer's commit
and the projector's leaves the events stored and the projector behind, never ahead.

The row also says which code derived the rows (recorder/derivedby.py): the revision of
`derive`'s code (recorder/coderev.py) and the events that other code derived. Holding the row
with another revision there (an upgrade) marks every event up to the position as other code's,
logs `derived by other code` once and goes on: recording never stops for it, and readers say so
until they are derived again: by `rederive_step`, which the recorder's `follow` task runs in the
background, a range of ids at a time from the lower end (resumable: the range's lower end moves
up in each step's transaction), or at once by `gapwatch replay --rebuild --rederive`.

Tail-by-id is safe because the writer takes `LOCK TABLE events IN EXCLUSIVE MODE` per batch
(recorder/writer.py): ids are handed out and committed in order, so when an id is visible every
lower id is visible too or never will be (a rolled-back batch leaves a gap, which is skipped).

A derive that raises on its data never touches the events: the step is rolled back, the rows
split in halves and retried, down to the one event that fails, which is recorded in
`projector_failures` (with the error) and stepped over. Errors of the store itself (connection
lost, permissions) propagate and the position stays where it was.

The writer calls `apply` with the rows it has just committed (in memory: no JSONB read back);
the recorder runs `follow` as a task (woken by the writer's NOTIFY, polling otherwise and on
SQLite); read commands call `catch_up` first, so what they answer includes every stored event.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gapwatch.recorder import derivedby
from gapwatch.recorder.coderev import revision_of
from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.exporter import observation_of
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.partitions import DERIVED_BY_EVENT_ID
from gapwatch.recorder.quarantine import describe
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events, projector_failures
from gapwatch.recorder.tables import projector_positions as _positions

log = structlog.get_logger("gapwatch.recorder.projector")

Rows = list[tuple[int, Observation]]
#: Same shape as writer.Derive (not imported: the writer imports this module).
ProjectFn = Callable[[Connection, Rows], None]

#: The projector that fills replay's `facts` table.
FACTS = "facts"
#: Events read from the log per step (the writer's batch size: one step per writer batch).
DEFAULT_STEP = 5000
#: Events re-derived per background step (`rederive_step`): the position row stays locked
#: for the step, so the writer's own projection waits that long (about 0.1 s at 10,000/s)
REDERIVE_STEP = 1000
#: The tables each projector derives, one or more rows per event, by `event_id` (deleted
#: before a range is derived again)
DERIVED = {FACTS: DERIVED_BY_EVENT_ID}

#: Errors that say "the store", not "this event": they propagate, nothing is skipped; and
#: psycopg's own (`store_errors`).
_STORE_ERRORS: tuple[type[BaseException], ...] = (
    StoreError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.ProgrammingError,
    sa_exc.InternalError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    MemoryError,
)


def store_errors() -> tuple[type[BaseException], ...]:
    """The errors that say "the store": psycopg's among them once psycopg is loaded (none of
    its exceptions can exist before). Not imported here: on SQLite nothing loads it, and it
    was ~0.9 s of the dashboard's cold start under load (benchmarks/README.md, session 32)."""
    driver = sys.modules.get("psycopg")
    if driver is None:
        return _STORE_ERRORS
    return (
        *_STORE_ERRORS,
        driver.OperationalError,
        driver.InterfaceError,
        driver.ProgrammingError,
        driver.InternalError,
    )


@dataclass(slots=True)
class Progress:
    """What a catch-up did: events derived, events that failed and were stepped over, and
    the position reached."""

    projected: int = 0
    failed: int = 0
    position: int = 0

    def add(self, other: Progress) -> None:
        self.projected += other.projected
        self.failed += other.failed
        self.position = max(self.position, other.position)


class Projector:
    """Follows `events` by id and derives from each event once; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        derive: ProjectFn,
        *,
        name: str = FACTS,
        step: int = DEFAULT_STEP,
        on_failure: Callable[[int, str], None] | None = None,
    ) -> None:
        """`on_failure(event_id, reason)` hears of each event stepped over."""
        self.engine, self.derive, self.name, self.step = engine, derive, name, step
        self.on_failure = on_failure
        #: the revision of `derive`'s code, stored with the position (recorder.coderev)
        self.revision = revision_of(derive)

    # --- public ----------------------------------------------------------------------------
    def position(self) -> int:
        """The highest event id projected (0 before the first)."""
        with translate_errors(self.engine), self.engine.connect() as conn:
            return self._read(conn)

    def catch_up(self, on_position: Callable[[int], None] | None = None) -> Progress:
        """Derive every event stored above the position; returns when none is left.
        `on_position(id)` hears of the position after each step (a progress bar)."""
        total = Progress(position=self.position())
        while True:
            done = self._run(None, until=None)
            if not done.projected and not done.failed:
                total.position = max(total.position, done.position)
                return total
            total.add(done)
            if on_position is not None:
                on_position(done.position)

    def apply(self, rows: Sequence[tuple[int, Observation]]) -> Progress:
        """Derive `rows`, (id, observation) pairs in id order that the caller just committed,
        without reading them back; anything stored before them and not yet derived is read
        from the log first. Rows at or below the position are skipped (done already)."""
        if not rows:
            return Progress(position=self.position())
        total, last = Progress(), rows[-1][0]
        # Each step takes what is unprojected below `rows` from the log first (another writer's
        # batch, an earlier step that failed), else `rows` itself: usually one transaction.
        while True:
            done = self._run(list(rows), until=None)
            total.add(done)
            if done.position >= last or not (done.projected or done.failed):
                return total

    def rederive_step(self, step: int = REDERIVE_STEP) -> tuple[int, int]:
        """Derive again, with this code, the next `step` events of the range other code
        derived (recorder.derivedby), from its lower end, in one transaction: their rows
        deleted, derived, the range's lower end moved past them; the range emptied and
        `rederived` counted up with the last. Returns the events derived again and an upper
        bound of those left ((0, 0): nothing to do). A derive that raises is the caller's:
        nothing moved."""
        tables = DERIVED.get(self.name, ())
        with translate_errors(self.engine), self.engine.connect() as conn:
            looked = derivedby.read(conn, self.name)  # a look first: no write while none is left
        if not tables or not derivedby.derived_by(looked, self.revision).mixed:
            return 0, 0
        with translate_errors(self.engine), self.engine.begin() as conn:
            self.hold(conn)
            row = derivedby.read(conn, self.name)
            assert row is not None  # hold made it
            low, high = row.other_from, row.other_to
            if high <= low or not tables:
                return 0, 0
            query = select(events).where(events.c.id > low, events.c.id <= high)
            todo = [
                (int(r.id), observation_of(r))
                for r in conn.execute(query.order_by(events.c.id).limit(step))
            ]
            upper = todo[-1][0] if len(todo) == step else high
            for table in tables:
                conn.execute(
                    text(f"DELETE FROM {table} WHERE event_id > :low AND event_id <= :upper"),
                    {"low": low, "upper": upper},
                )
            if todo:
                self.derive(conn, todo)
            mine = _positions.update().where(_positions.c.name == self.name)
            if upper < high:
                conn.execute(mine.values(other_from=upper))
                return len(todo), high - upper
            conn.execute(
                mine.values(other_from=0, other_to=0, rederived=_positions.c.rederived + 1)
            )
            return len(todo), 0

    # --- one step --------------------------------------------------------------------------
    def _run(self, rows: Rows | None, *, until: int | None) -> Progress:
        """One step, split down to the failing event when derive raises on the data."""
        try:
            with translate_errors(self.engine), self.engine.begin() as conn:
                position = self.hold(conn)
                todo = self._todo(conn, position, rows, until)
                if not todo:
                    return Progress(position=position)
                self.derive(conn, todo)
                self.move(conn, todo[-1][0])
            return Progress(projected=len(todo), position=todo[-1][0])
        except store_errors():
            raise
        except Exception as exc:  # the data (or a bug of derive): find the one event
            failure: Exception = exc
        # read what the failed step would have done (its transaction is gone), then split it
        with translate_errors(self.engine), self.engine.connect() as conn:
            todo = self._todo(conn, self._read(conn), rows, until)
        return self._split(todo, failure)

    def _split(self, todo: Rows, failure: Exception) -> Progress:
        if len(todo) == 1:
            return self._step_over(todo[0], failure)
        mid = len(todo) // 2
        total = Progress()
        for half in (todo[:mid], todo[mid:]):
            total.add(self._run(half, until=None))
        return total

    def _step_over(self, row: tuple[int, Observation], failure: Exception) -> Progress:
        event_id, obs = row
        reason = describe(failure)
        with translate_errors(self.engine), self.engine.begin() as conn:
            if self.hold(conn) >= event_id:  # another projector got past it meanwhile
                return Progress(position=event_id)
            conn.execute(
                projector_failures.insert().values(
                    name=self.name,
                    event_id=event_id,
                    cluster=obs.cluster,
                    failed_at=datetime.now(UTC),
                    error=reason,
                )
            )
            self.move(conn, event_id)
        log.warning("projection failed", projector=self.name, event_id=event_id, error=reason)
        if self.on_failure is not None:
            self.on_failure(event_id, reason)
        return Progress(failed=1, position=event_id)

    def _todo(self, conn: Connection, position: int, rows: Rows | None, until: int | None) -> Rows:
        if rows is not None:
            if rows and position < rows[0][0] - 1:
                below = self._todo(conn, position, None, rows[0][0] - 1)
                if below:
                    return below
            return [row for row in rows if row[0] > position]
        query = select(events).where(events.c.id > position).order_by(events.c.id)
        if until is not None:
            query = query.where(events.c.id <= until)
        return [(int(r.id), observation_of(r)) for r in conn.execute(query.limit(self.step))]

    # --- the position row ------------------------------------------------------------------
    def hold(self, conn: Connection, *, mark: bool = True) -> int:
        """Lock this projector's position row (a write first: SQLite then holds its write lock
        from the start and cannot deadlock upgrading) and return the position; `mark`: record
        the events other code derived, when the row says so (recorder.derivedby)."""
        now = datetime.now(UTC)
        mine = _positions.c.name == self.name
        touch = _positions.update().where(mine).values(updated_at=now)
        if conn.execute(touch).rowcount == 0:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            new = insert(_positions).values(
                name=self.name, position=0, updated_at=now, revision=self.revision, revision_at=0
            )
            conn.execute(new.on_conflict_do_nothing(index_elements=["name"]))
            conn.execute(touch)
        row = derivedby.read(conn, self.name)
        assert row is not None  # inserted above, or there
        other = derivedby.marked(row, self.revision) if mark else None
        if other is not None:
            values = {"revision": self.revision, "revision_at": row.position}
            conn.execute(_positions.update().where(mine).values(
                other_from=other[0], other_to=other[1], **values))  # fmt: skip
            if other[1] > other[0]:
                log.warning(
                    "derived by other code",
                    projector=self.name,
                    events=f"{other[0] + 1}-{other[1]}",
                    stored=row.revision,
                    this=self.revision,
                    hint="a recorder of this version derives them again in the background; "
                    f"`{derivedby.REDERIVE}` at once",
                )
        return row.position

    def _read(self, conn: Connection) -> int:
        query = select(_positions.c.position).where(_positions.c.name == self.name)
        return int(conn.execute(query).scalar() or 0)

    def move(self, conn: Connection, position: int) -> None:
        """Move the position (held in `conn`), as this code's."""
        mine = _positions.c.name == self.name
        values = {"position": position, "revision_at": position}
        conn.execute(_positions.update().where(mine).values(**values))

    def derived_all(self, conn: Connection, position: int) -> None:
        """Every event up to `position` derived by this code (a re-derivation of the log, the
        row held with `hold(mark=False)`): no other code's rows are left."""
        mine = _positions.c.name == self.name
        values = {"revision": self.revision, "other_from": 0, "other_to": 0}
        conn.execute(_positions.update().where(mine).values(
            position=position, revision_at=position, rederived=_positions.c.rederived + 1,
            **values))  # fmt: skip
