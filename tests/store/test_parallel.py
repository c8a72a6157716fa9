"""The racing-writers helper (tests/store/parallel.py) itself: a writer's error reaches the test
instead of dying with its thread, and every batch of every writer is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import no_derive
from tests.store.parallel import write_in_parallel
from tests.store.samples import real_observations
from tests.store.test_writer import shifted


def test_a_writers_error_is_raised_in_the_test() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError):
        write_in_parallel(engine, no_derive, [[real_observations()]])
    engine.dispose()


def test_every_batch_of_every_writer_is_written(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    obs = real_observations()
    batches = [[shifted(obs, k * 100 + i) for i in range(3)] for k in range(2)]
    write_in_parallel(engine, no_derive, batches)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 6 * len(obs)
    engine.dispose()
