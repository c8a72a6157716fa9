"""What the next refresh of the projections has to do, told before it does it.

A page of the dashboard refreshes the projections before it reads them, inside the page load:
usually a few new facts, in milliseconds. Three refreshes are long on a large store (tens of
seconds on the 1.1M-event `large` one, minutes on months), and a page that only spins for that
long reads as a hung dashboard:

- `rebuild`: the projections were built by other replay code (replay.revision: an upgrade);
  every window is recomputed under this version's rules;
- `refacts`: the recorder derived again, with this version's code, facts that other code had
  derived (recorder.derivedby): every window is recomputed from them;
- `build`: there are none yet (a store never replayed);
- `fold`: this process keeps no fold state of the store yet (replay.checkpoint_file: the first
  page since the dashboard started) and facts are pending: it reads the whole store once.

`due` reads it in two statements of primary-key lookups (the one a refresh's own look sends,
projections.looks, and the facts projector's row), and also tells whether other
code derived some of the facts (recorder.derivedby), which a refresh does not mend: the page
says so with the command that does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gapwatch.recorder import derivedby
from gapwatch.recorder.coderev import revision_of
from gapwatch.recorder.derivedby import DerivedBy
from gapwatch.recorder.projector import FACTS
from gapwatch.recorder.store import translate_errors
from gapwatch.replay import checkpoint_file, projections, revision
from gapwatch.replay.facts import write_facts


@dataclass(frozen=True, slots=True)
class Due:
    """The next refresh's long step (None: none), the facts it would fold, the revision that
    built the projections, and which code derived the facts."""

    step: str | None
    facts_after: int
    newest: int
    built_by: int | None
    facts: DerivedBy

    def saying(self) -> tuple[str, str] | None:
        """(what is being done, why) for a long step, else None."""
        if self.step == "rebuild":
            return (
                "Rebuilding the projections: they were built by other replay code",
                f"gapwatch was upgraded (the projections' replay revision {self.built_by}, "
                f"this dashboard's {revision.current()}): every window, rollout and lane is "
                f"recomputed from the facts under this version's rules, once; the page "
                f"follows when it is done (minutes on a store of months).",
            )
        if self.step == "refacts":
            return (
                "Rebuilding the projections: the facts were derived again",
                "The recorder derived again, with this version's code, facts that an older "
                "version had derived: every window, rollout and lane is recomputed from them, "
                "once; the page follows when it is done.",
            )
        if self.step == "build":
            return (
                "Building the projections for the first time",
                f"This store was never replayed: every window, rollout and lane is computed "
                f"from the facts of {self.newest:,} events, once; the page follows when it "
                f"is done (`gapwatch replay` does it ahead).",
            )
        if self.step == "fold":
            return (
                "Reading the store's facts: the first page since the dashboard started",
                f"The dashboard keeps the store's fold state in memory to refresh from; it "
                f"reads the facts up to event {self.newest:,} once, then folds only new ones.",
            )
        return None


def due(engine: Engine) -> Due:
    """What the next refresh has to do, and which code derived the facts."""
    with translate_errors(engine), engine.connect() as conn:
        last, newest, built, moved = projections.looks(conn)
        row = derivedby.read(conn, FACTS)
    facts = derivedby.derived_by(row, revision_of(write_facts))
    step: str | None = None
    other = last > 0 and built != revision.current()
    if newest > last or other or (last > 0 and moved):
        if other:
            step = "rebuild"
        elif last > 0 and moved:
            step = "refacts"
        elif last == 0:
            step = "build"
        elif not checkpoint_file.kept(engine):
            step = "fold"
    return Due(step, last, newest, built, facts)
