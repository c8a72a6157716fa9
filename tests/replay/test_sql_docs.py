"""Every ```sql block of docs/sql.md runs on both backends against a simulated store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.facts import write_facts

DOC = Path(__file__).parent.parent.parent / "docs" / "sql.md"
BLOCKS = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_page_has_queries() -> None:
    assert len(BLOCKS) >= 6


@pytest.fixture
def simulated(engine: Engine) -> Engine:
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario("seed-3node"), seed=1).observations
    )
    projections.rebuild(engine)
    return engine


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_example_query_runs(simulated: Engine, number: int) -> None:
    with simulated.connect() as conn:
        rows = conn.execute(text(BLOCKS[number])).all()
    assert rows, f"query {number + 1} of docs/sql.md returned nothing on the simulated store"
