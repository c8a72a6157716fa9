"""Replay's facts caught up with the log before anything is read from them.

Facts are derived by the `facts` projector (recorder/projector.py) after each writer commit, in
the writer's process, or by the recorder's projector task. An event stored by a writer that did
not derive (`no_derive`), or whose derivation was cut short (a crash between the two commits, a
store error), is still above the projector's position: `catch_up` derives it before a read
command answers (replay.api's entry points, `gapwatch replay`, the dashboard's refresh).

A store that is current costs two primary-key lookups and no write, so a read-only login (the
dashboard's, `gapwatch_reader`) can call it; if it is behind and the login may not write, the
answer is given from the facts there are, with a warning naming how far behind they are.

The first of those lookups reads the projector's whole row, which says which code derived the
facts (recorder/derivedby.py): `derived_by` tells the read commands, `gapwatch replay`,
`gapwatch db current` and the dashboard's pages, which say so with the command that derives
them again.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine, func, select

from gapwatch.recorder import derivedby
from gapwatch.recorder.coderev import revision_of
from gapwatch.recorder.derivedby import DerivedBy
from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.progresslines import Track, advance_to
from gapwatch.recorder.projector import FACTS, Progress, Projector
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts

log = structlog.get_logger("gapwatch.replay.catchup")


def facts_projector(engine: Engine) -> Projector:
    """The projector that derives replay's facts from `events`."""
    return Projector(engine, write_facts, name=FACTS)


def behind(engine: Engine) -> tuple[int, int]:
    """(the facts projector's position, the log's highest id): equal when nothing is behind."""
    position, last, _by = _looks(engine)
    return position, last


def derived_by(engine: Engine) -> DerivedBy:
    """Which code derived the stored facts, as this installation reads them."""
    return _looks(engine)[2]


def _looks(engine: Engine) -> tuple[int, int, DerivedBy]:
    with translate_errors(engine), engine.connect() as conn:
        row = derivedby.read(conn, FACTS)
        last = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
    by = derivedby.derived_by(row, revision_of(write_facts))
    return (row.position if row is not None else 0), int(last), by


def catch_up(engine: Engine, track: Track | None = None) -> Progress:
    """Derive replay's facts for every event stored above the projector's position (`track`:
    a progress bar over the ids behind, recorder.progresslines)."""
    position, last = behind(engine)
    if position >= last:
        return Progress(position=position)
    try:
        if track is None:
            return facts_projector(engine).catch_up()
        with track("deriving facts", last - position) as advance:
            to = advance_to(advance)
            return facts_projector(engine).catch_up(lambda at: to(at - position))
    except StoreError as exc:
        log.warning("facts behind the log", position=position, last_id=last, error=str(exc))
        return Progress(position=position)
