"""Projections built by other replay code are rebuilt, not kept (replay.revision): after an
upgrade, a refresh used to recompute only the Services with new facts, and every other one kept
the old rules' windows with nothing saying which rules had made them. Both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import checkpoint_file, projections, revision
from gapwatch.replay.facts import write_facts
from tests.replay.test_projections import _tables


def _built(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario("seed-3node"), seed=3).observations
    )
    assert projections.refresh(engine) > 0
    built = _tables(engine)
    assert built["replay_windows"]
    return built


def _as_other_code_left_it(engine: Engine, stored_revision: int | None) -> None:
    """What an older build leaves: windows of its own rules (here every class changed and the
    first window gone) and its own revision, or no revision at all (projections from before it was
    recorded)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE replay_windows SET class = 'node-not-ready'"))
        first = conn.execute(text("SELECT min(start_us) FROM replay_windows")).scalar_one()
        conn.execute(text("DELETE FROM replay_windows WHERE start_us = :s"), {"s": first})
        conn.execute(text("DELETE FROM replay_state WHERE key = :k"), {"k": revision.KEY})
        if stored_revision is not None:
            conn.execute(
                text("INSERT INTO replay_state (key, value) VALUES (:k, :v)"),
                {"k": revision.KEY, "v": stored_revision},
            )


def _stored_revision(engine: Engine) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT value FROM replay_state WHERE key = :k"), {"k": revision.KEY}
        ).scalar_one_or_none()
    return None if value is None else int(value)


def test_projections_record_the_code_that_built_them(engine: Engine) -> None:
    _built(engine)
    assert _stored_revision(engine) == revision.current()
    projections.rebuild(engine)
    assert _stored_revision(engine) == revision.current()
    # a current store: nothing to do, nothing written
    assert not projections.pending(engine)
    assert projections.refresh(engine) == 0


@pytest.mark.parametrize("stored", [revision.current() ^ 1, None], ids=["other", "unrecorded"])
def test_a_refresh_rebuilds_what_other_code_built(engine: Engine, stored: int | None) -> None:
    built = _built(engine)
    _as_other_code_left_it(engine, stored)
    assert _tables(engine) != built
    assert projections.pending(engine)  # nothing new in the log, yet not current
    with capture_logs() as logs:
        assert projections.refresh(engine) == 0  # no new events: the count a refresh reports
    assert [e["event"] for e in logs] == [
        "projections were built by other replay code: rebuilding them"
    ]
    # in words: the two digests (built_by=..., this=...) meant nothing to a user
    assert set(logs[0]) == {"event", "log_level", "hint"}, logs[0]
    assert _tables(engine) == built
    assert _stored_revision(engine) == revision.current()
    assert projections.refresh(engine) == 0 and not projections.pending(engine)


def test_the_one_shot_commands_checkpoint_rebuilds_too(engine: Engine) -> None:
    """`gapwatch replay` (persist) and the dashboard refresh through replay.checkpoint_file: its
    `pending` look must see other code's projections, and a checkpoint saved by other code (its
    cached windows are the old rules' output) must not be loaded."""
    built = _built(engine)
    checkpoint_file._kept.clear()
    _as_other_code_left_it(engine, revision.current() ^ 1)
    checkpoint_file.refresh(engine, persist=True)
    assert _tables(engine) == built
    assert _stored_revision(engine) == revision.current()


def test_a_checkpoint_saved_by_other_code_is_not_loaded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saved checkpoint holds each node's windows as the rules found them: a build whose
    revision differs (here: this code's revision changed, as an upgrade changes it) reads it as
    no checkpoint."""
    _built(engine)
    projections.rebuild(engine)
    checkpoint_file._kept.clear()
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario("seed-3node"), seed=4).observations
    )
    assert checkpoint_file.refresh(engine, persist=True) > 0
    assert checkpoint_file.path_for(engine).is_file()
    checkpoint_file._kept.clear()
    assert checkpoint_file.load(engine).state is not None
    monkeypatch.setattr(revision, "current", lambda: 12345)
    assert checkpoint_file.load(engine).state is None


def test_a_read_commands_json_after_an_upgrade_is_still_json(
    engine: Engine, store_url: str
) -> None:
    """The first read after an upgrade rebuilds the projections and logs so: the line went to
    stdout (structlog's default) before `gapwatch gaps --json`'s JSON, which no longer parsed.
    Now it goes to stderr, with the command's progress."""
    import json

    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    _built(engine)
    _as_other_code_left_it(engine, revision.current() ^ 1)
    done = CliRunner().invoke(app, ["gaps", "--db", store_url, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)  # the windows, and nothing else
    assert "projections were built by other replay code: rebuilding them" in done.stderr
