"""The recorder's commands derive replay's facts through the hook the gapwatch app wires in.

The recorder does not import replay, so `EventWriter` takes its derive hook from the caller;
dashboard/cli.py hands `replay.facts.write_facts` to every command through the root context's
`Wiring`. Run through the real app on both backends: `import events` and `simulate --db` store
facts for every event replay folds, exactly what deriving the stored events again gives. A
recorder sub-app run on its own (no Wiring) fails with one clear line instead of writing events
without facts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder import cli as recorder_cli
from gapwatch.recorder.errors import GapwatchError
from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import derive_all
from tests.store.samples import real_observations


def _stored_facts(engine: Engine) -> list[tuple[int, int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, seq, fact FROM facts ORDER BY event_id, seq"))
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def _expected_facts(engine: Engine) -> list[tuple[int, int, str]]:
    return [(f.event_id, f.seq, f.fact) for f in derive_all(iter_events(engine))]


def test_import_events_derives_the_facts(store_url: str, engine: Engine, tmp_path: Path) -> None:
    sample = tmp_path / "sample.ndjson"
    sample.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    result = CliRunner().invoke(app, ["import", "events", str(sample), "--db", store_url])
    assert result.exit_code == 0, result.output
    expected = _expected_facts(engine)
    assert expected, "the real samples include kinds replay folds"
    assert _stored_facts(engine) == expected


def test_simulate_into_the_store_derives_the_facts(store_url: str, engine: Engine) -> None:
    args = ["simulate", "--db", store_url, "--set", "duration_s=120"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() > 100
    assert _stored_facts(engine) == _expected_facts(engine)


def test_a_recorder_command_outside_the_app_refuses(
    store_url: str, engine: Engine, tmp_path: Path
) -> None:
    alone = typer.Typer()
    recorder_cli.register(alone)
    sample = tmp_path / "sample.ndjson"
    sample.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    result = CliRunner().invoke(alone, ["import", "events", str(sample), "--db", store_url])
    assert isinstance(result.exception, GapwatchError)
    assert "no Wiring" in str(result.exception)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0


@pytest.fixture(autouse=True)
def _fresh(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0
