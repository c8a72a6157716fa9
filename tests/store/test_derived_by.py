"""Which code derived the facts (recorder/derivedby.py, migration 0011), on both backends.

Session 25 changed what derive writes for a Pod (state `unready`); facts derived before kept
the old reading and replay read them with the new rules, silently. Now the projector's row
keeps the revision of the derive code beside its position, and every reader says which events
other code derived and that `gapwatch replay --rebuild --rederive` derives them again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.coderev import code_text, revision_of
from gapwatch.recorder.derivedby import REDERIVE, Row, marked
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import downgrade, make_engine, upgrade
from gapwatch.recorder.tables import projector_positions
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay import api
from gapwatch.replay.catchup import derived_by
from gapwatch.replay.facts import derive_all, insert_facts, write_facts
from gapwatch.replay.load import rederive_facts
from tests.replay.test_readiness_loss import CBD, PGBD, _classes, _readiness_loss
from tests.store.samples import real_observations
from tests.store.test_writer import shifted

THIS = revision_of(write_facts)


def other_code(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """A derive of other code: this module's (its digest is this file's and what it imports)."""
    write_facts(conn, rows)


def _row(engine: Engine) -> tuple[int, int | None, int | None, int, int]:
    c = projector_positions.c
    query = select(c.position, c.revision, c.revision_at, c.other_from, c.other_to)
    with engine.connect() as conn:
        position, rev, at, low, high = conn.execute(query.where(c.name == "facts")).one()
    return position, rev, at, low, high


def test_the_facts_carry_the_revision_of_the_code_that_derived_them(engine: Engine) -> None:
    obs = real_observations()
    EventWriter(engine, derive=write_facts).write(obs)
    position, rev, at, low, high = _row(engine)
    assert (rev, at, low, high) == (THIS, position, 0, 0) and position > 0
    assert not derived_by(engine).mixed and derived_by(engine).message() == ""


def test_a_projector_of_other_code_marks_every_event_derived_before_it(engine: Engine) -> None:
    """An upgraded recorder (another derive) goes on recording and marks what was derived
    before it; replay's readers, of the first code, find every event other code's (the latest
    were derived by the recorder's), and a rederivation leaves none."""
    obs = real_observations()
    EventWriter(engine, derive=write_facts).write(obs)
    before = _row(engine)[0]
    EventWriter(engine, derive=other_code).write(shifted(obs, 60))
    position, rev, at, low, high = _row(engine)
    other = revision_of(other_code)
    assert other != THIS
    assert (rev, at, low, high) == (other, position, 0, before) and position > before
    # the reader, of this code: every event, the recorder's latest included
    seen = derived_by(engine)
    assert seen.mixed and seen.other == (0, position) and seen.stored == other
    assert f"events 1-{position}" in seen.message() and REDERIVE in seen.message()
    # which build derived last, in words a user can act on: no command shows a build's digest
    assert "another build of gapwatch than this one" in seen.message()
    assert str(other) not in seen.message() and str(THIS) not in seen.message()
    rederive_facts(engine)
    assert _row(engine) == (position, THIS, position, 0, 0)
    assert not derived_by(engine).mixed


def test_a_recorder_that_keeps_no_revision_is_caught_moving_the_position(engine: Engine) -> None:
    """A recorder older than 0011 still running beside an upgraded one (a rolling update)
    derives a batch and moves only the position: the next step of this code marks those
    events, and only those, as other code's."""
    obs = real_observations()
    EventWriter(engine, derive=write_facts).write(obs)
    mine = _row(engine)[0]
    EventWriter(engine, derive=no_derive).write(shifted(obs, 60))
    with engine.begin() as conn:  # what 0010's projector did: derive, move the position alone
        rows = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        from gapwatch.recorder.exporter import iter_events

        insert_facts(conn, derive_all(r for r in iter_events(engine) if r[0] > mine))
        conn.execute(text("UPDATE projector_positions SET position = :p"), {"p": rows})
    EventWriter(engine, derive=write_facts).write(shifted(obs, 120))
    position, rev, at, low, high = _row(engine)
    assert (rev, at, low, high) == (THIS, position, mine, rows) and position > rows
    assert derived_by(engine).other == (mine, rows)
    assert f"events {mine + 1}-{rows}" in derived_by(engine).message()


@pytest.mark.parametrize(
    ("row", "mine", "expected"),
    [
        (Row(10, 7, 10, 0, 0), 7, None),  # this code left it there: nothing
        (Row(10, None, None, 0, 0), 7, (0, 10)),  # before 0011: every event
        (Row(0, None, None, 0, 0), 7, (0, 0)),  # nothing derived yet: nothing other
        (Row(10, 8, 10, 0, 0), 7, (0, 10)),  # another revision
        (Row(10, 8, 10, 2, 5), 7, (0, 10)),
        (Row(15, 7, 10, 0, 0), 7, (10, 15)),  # moved by code that keeps no revision
        (Row(15, 7, 10, 2, 5), 7, (2, 15)),  # ... beside an older range: one range
    ],
)
def test_marked(row: Row, mine: int, expected: tuple[int, int] | None) -> None:
    assert marked(row, mine) == expected


def test_an_upgrade_says_the_facts_are_older_until_rederived(store_url: str) -> None:
    """A store derived by code before 0011 that wrote `pending` for a readiness loss (session
    24's), migrated: `gapwatch replay`, `gapwatch db current` and every read command say its
    events were derived by other code and name the command; the windows are the old reading
    until it runs. Before: nothing was said."""
    engine = make_engine(store_url)
    EventWriter(engine, derive=write_facts).write_all(_readiness_loss())
    downgrade(engine, "0010_replayer_role")
    with engine.begin() as conn:  # as session 24's derive wrote it
        conn.execute(text("UPDATE facts SET state = 'pending' WHERE state = 'unready'"))
        last = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    upgrade(engine)
    runner = CliRunner()
    said = runner.invoke(app, ["replay", "--db", store_url])
    assert said.exit_code == 0, said.output
    note = f"the facts of events 1-{last} were derived by other code"
    assert note in said.stderr and f"`{REDERIVE}`" in said.stderr
    current = runner.invoke(app, ["db", "current", "--db", store_url])
    assert current.exit_code == 0 and note in current.stdout, current.output
    gaps = runner.invoke(app, ["gaps", "--db", store_url, "--json"])
    assert gaps.exit_code == 0 and note in gaps.stderr and note not in gaps.stdout
    assert _classes(api.windows(engine)) == [("n1", PGBD)]  # the old facts' reading
    rederived = runner.invoke(app, ["replay", "--rebuild", "--rederive", "--db", store_url])
    assert rederived.exit_code == 0, rederived.output
    assert _classes(api.windows(engine)) == [("n1", CBD)]
    for command in (["replay"], ["gaps"]):
        again = runner.invoke(app, [*command, "--db", store_url])
        assert again.exit_code == 0 and "other code" not in again.stderr, again.stderr
    current = runner.invoke(app, ["db", "current", "--db", store_url])
    assert "facts: derived by this code" in current.stdout
    engine.dispose()


def test_the_cli_hook_and_replays_own_digest_agree() -> None:
    """The CLI's hook imports write_facts on first use and names its module (coderev.runs):
    were the hook's own module digested, every recorder run from the CLI (its `record`,
    `import`) would mark what replay's readers derived as other code's, and back."""
    from gapwatch.dashboard.cli import _write_facts

    assert revision_of(_write_facts) == THIS


def test_a_docstring_comment_or_layout_leaves_the_revision_a_change_of_code_moves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-derivation of months is long: only a change of what the code does may ask for one
    (the digest is of the syntax tree without docstrings, not of the source's bytes)."""
    package = tmp_path / "gapwatch_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    variants = {
        "plain": "def f(x):\n    return x + 1\n",
        "documented": 'def f(x):\n    """Add one."""\n    # why\n'
        + "    return (\n        x + 1\n    )\n",
        "changed": "def f(x):\n    return x + 2\n",
    }
    for name, source in variants.items():
        (package / f"{name}.py").write_text(source)
    texts = {name: code_text(f"gapwatch_probe.{name}") for name in variants}
    assert texts["plain"] == texts["documented"] != texts["changed"]
