"""Ctrl-C during a long write: say what was committed and how to resume, then exit 130.

Writers commit batch by batch, so an interrupt leaves every finished batch stored and rolls the
batch in flight back. The events table only grows and its ids only rise, so "what was committed"
is the number of events above the highest id seen before the command began (others writing at
the same time are counted too; the message says "new events"). Every writer dedupes at the
database, so running the same command again resumes: lines already stored are skipped.

Commands that write in one transaction (`replay --rebuild`) use `rolled_back_on_interrupt`: nothing
of theirs was committed, and they say what the store holds instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy import Engine, func, select

from gapwatch.recorder.cliutil import stderr
from gapwatch.recorder.errors import GapwatchError
from gapwatch.recorder.store import redact, translate_errors
from gapwatch.recorder.tables import events

EXIT_INTERRUPTED = 130


def _highest_id(engine: Engine) -> int:
    with translate_errors(engine), engine.connect() as conn:
        return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


def _count_above(engine: Engine, floor: int) -> int:
    query = select(func.count()).select_from(events).where(events.c.id > floor)
    with translate_errors(engine), engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _interrupted(said: str) -> NoReturn:
    stderr.print(f"interrupted: {said}", markup=False)
    raise typer.Exit(EXIT_INTERRUPTED) from None


@contextmanager
def committed_on_interrupt(
    engine: Engine, resume: str = "run the same command again"
) -> Iterator[None]:
    """Turn KeyboardInterrupt into one message with the events committed so far, and exit 130."""
    floor = _highest_id(engine)
    try:
        yield
    except KeyboardInterrupt:
        try:
            done = f"{_count_above(engine, floor)} new events committed"
        except GapwatchError as exc:  # the store went away too: say so, still exit 130
            done = f"cannot count what was committed ({exc})"
        _interrupted(
            f"{done} to {redact(str(engine.url))}; the batch in flight was rolled back. "
            f"To resume, {resume}: what is already stored is skipped."
        )


@contextmanager
def rolled_back_on_interrupt(
    engine: Engine, what: str, holds: Callable[[], str], resume: str
) -> Iterator[None]:
    """For one-transaction writers: on KeyboardInterrupt say that `what` was rolled back, what the
    store `holds` now (asked after the rollback), how to `resume`, and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        try:
            now = holds()
        except GapwatchError as exc:
            now = f"cannot read the store ({exc})"
        _interrupted(
            f"{what} was rolled back, nothing of it committed to {redact(str(engine.url))}; "
            f"{now}. To resume, {resume}."
        )
