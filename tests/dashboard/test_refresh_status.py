"""A page whose refresh is long says so while it runs (dashboard/app.py `refresh`, replay.due).

After an upgrade the first page rebuilt every projection inside the page load with no word
(tens of seconds on the `large` store: a page that only spins); facts derived by other code
were read with no word either. AppTest runs the real app on a real store, both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections, revision
from gapwatch.replay.facts import write_facts
from tests.dashboard.test_overview_no_lb import overview
from tests.replay.test_readiness_loss import _readiness_loss


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    EventWriter(engine, derive=write_facts).write_all(_readiness_loss())
    yield engine
    engine.dispose()


def _built_by(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT value FROM replay_state WHERE key = :k"), {"k": revision.KEY}
            ).scalar_one()
        )


def test_a_rebuild_after_an_upgrade_is_said_on_the_page(
    store: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    projections.rebuild(store)
    with store.begin() as conn:  # as the replay code before the upgrade left them
        conn.execute(
            text("UPDATE replay_state SET value = value + 1 WHERE key = :k"), {"k": revision.KEY}
        )
    at = overview(store_url, monkeypatch)
    [status] = at.status
    assert status.label.startswith("Rebuilding the projections: they were built by other")
    assert status.label.endswith(" s") and "done in" in status.label
    assert status.state == "complete"
    said = " ".join(str(m.value) for m in at.markdown)
    assert "gapwatch was upgraded" in said and "under this version's rules" in said
    assert _built_by(store) == revision.current()  # rebuilt by the page
    again = overview(store_url, monkeypatch)  # current now: nothing to say
    assert not again.status


def test_a_first_build_is_said_on_the_page(
    store: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(store_url, monkeypatch)
    [status] = at.status
    assert status.label.startswith("Building the projections for the first time")
    assert status.state == "complete"
    assert _built_by(store) == revision.current()


def test_facts_derived_by_other_code_are_said_on_the_page(
    store: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    projections.rebuild(store)
    with store.begin() as conn:  # as a recorder before the upgrade left them
        conn.execute(text("UPDATE projector_positions SET revision = NULL"))
        last = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    at = overview(store_url, monkeypatch)
    [warning] = at.warning
    assert f"the facts of events 1-{last} were derived by other code" in str(warning.value)
    assert "`gapwatch replay --rebuild --rederive`" in str(warning.value)
    assert not at.status  # the projections are current: nothing long to do


def test_the_first_fold_since_start_is_said_on_the_page(
    store: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Projections current but for new facts, and no fold state in this process (the first page
    since `gapwatch dashboard` started): the refresh reads the whole store once, and says so."""
    from gapwatch.replay import checkpoint_file
    from tests.store.test_writer import shifted

    projections.rebuild(store)
    EventWriter(store, derive=write_facts).write_all(shifted(_readiness_loss(), 600))
    checkpoint_file.forget(store)  # as a server just started
    at = overview(store_url, monkeypatch)
    [status] = at.status
    assert status.label.startswith("Reading the store's facts: the first page since")
    assert checkpoint_file.kept(store)


def test_a_rebuild_after_the_recorder_derived_facts_again_is_said_on_the_page(
    store: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder derived again, in the background, facts an older version had derived
    (recorder/follow.py): the projections built on the old facts are rebuilt by the next page,
    which says why."""
    from gapwatch.recorder.projector import Projector

    projections.rebuild(store)
    with store.begin() as conn:  # as a recorder before the upgrade left them
        conn.execute(text("UPDATE projector_positions SET revision = NULL"))
    projector = Projector(store, write_facts)
    while projector.rederive_step(step=3)[1]:
        pass
    at = overview(store_url, monkeypatch)
    [status] = at.status
    assert status.label.startswith("Rebuilding the projections: the facts were derived again")
    assert not at.warning  # every fact is this version's now
