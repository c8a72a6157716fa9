"""Which code derived a projector's rows, as its position row records it (migration 0011).

Beside its position a projector keeps `revision`, the revision of the derive code that moved
it last (recorder/coderev.py), `revision_at`, the position that code left, and the events
whose rows other code derived, `other_from` < id <= `other_to` (none when equal). `marked`
is what a projector of revision `mine` makes of the row when it holds it:

- the same revision, the position where it left it: nothing changes;
- another revision, or none (rows derived before 0011): every event up to the position was
  derived by other code;
- its revision, the position moved beyond `revision_at`: code that keeps no revision moved
  it (a recorder older than 0011 still running beside a new one): those events join the other
  code's, one range from the lowest of either (events between derived twice, never missed).

The recorder derives the range again in the background, from its lower end up
(`Projector.rederive_step`, counting `rederived` up when done); `gapwatch replay --rebuild
--rederive` derives every event again at once. Either empties the range. A
reader (replay, the dashboard, `gapwatch db current`) reads the row the same way with its own
revision: `DerivedBy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from gapwatch.recorder.tables import projector_positions as _positions

#: what the message tells a user to run
REDERIVE = "gapwatch replay --rebuild --rederive"


@dataclass(frozen=True, slots=True)
class Row:
    """A projector's position row: its position and which code derived what."""

    position: int
    revision: int | None
    revision_at: int | None
    other_from: int
    other_to: int


def marked(row: Row, mine: int) -> tuple[int, int] | None:
    """The events whose rows other code derived (from, to], once code of revision `mine`
    holds `row`; None when the row stays as it is."""
    at = row.revision_at or 0
    if row.revision == mine and at == row.position:
        return None
    if row.revision != mine:
        start = 0
    elif row.other_to > row.other_from:
        start = min(row.other_from, at)
    else:
        start = min(at, row.position)
    return (start, row.position) if row.position > start else (0, 0)


def read(conn: Connection, name: str) -> Row | None:
    """The projector's position row (None: it never ran)."""
    found = conn.execute(
        select(
            _positions.c.position,
            _positions.c.revision,
            _positions.c.revision_at,
            _positions.c.other_from,
            _positions.c.other_to,
        ).where(_positions.c.name == name)
    ).one_or_none()
    if found is None:
        return None
    position, revision, revision_at, other_from, other_to = found
    return Row(
        int(position),
        None if revision is None else int(revision),
        None if revision_at is None else int(revision_at),
        int(other_from or 0),
        int(other_to or 0),
    )


@dataclass(frozen=True, slots=True)
class DerivedBy:
    """What a reader of revision `this` makes of the row: the events whose rows other code
    derived (`other`, (from, to]; (0, 0): none) and the revision that derived the latest."""

    this: int
    stored: int | None
    other: tuple[int, int]

    @property
    def mixed(self) -> bool:
        """Whether rows derived by other code than this installation's are there."""
        return self.other[1] > self.other[0]

    def message(self) -> str:
        """One line naming what is wrong and the command that mends it ("" when nothing)."""
        if not self.mixed:
            return ""
        low, high = self.other
        said = (
            f"the facts of events {low + 1}-{high} were derived by other code than this "
            f"gapwatch's (before an upgrade that changed what is derived): replay reads them "
            f"with this version's rules until they are derived again, by a running `gapwatch "
            f"record` of this version in the background or by `{REDERIVE}` at once"
        )
        if self.stored is not None and self.stored != self.this:
            # not the two digests (recorder/coderev.py): no command shows a build's digest, so
            # a user could match neither to a running process
            said += (
                "; the last facts were derived by another build of gapwatch than this one (a "
                "`gapwatch record` of another version still running, most likely): run one "
                "version for both"
            )
        return said


def derived_by(row: Row | None, this: int) -> DerivedBy:
    """`DerivedBy` for a reader of revision `this` (no row: nothing derived, nothing mixed)."""
    if row is None:
        return DerivedBy(this, None, (0, 0))
    found = marked(row, this)
    other = (row.other_from, row.other_to) if found is None else found
    return DerivedBy(this, row.revision, other)
