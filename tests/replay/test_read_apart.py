"""replay.load on PostgreSQL reads the other facts and the probe facts in two COPYs, each of the
rows and columns it needs, where the transaction reads one snapshot (REPEATABLE READ: what
`load_state` opens), and in one COPY of everything elsewhere: both fold the same state, and
the two statements never see a change committed between them. Read apart, the other facts are
folded while the server sends the probe facts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import copyfold
from gapwatch.replay.copyfold import _one_snapshot
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.load import fold_stored, load_state

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    for seed in (1, 2):
        EventWriter(engine, derive=write_facts).write_all(
            run(load_scenario("aws-nlb"), seed=seed).observations
        )
    yield engine
    engine.dispose()


def _fields(state: FoldState) -> dict[str, Any]:
    return {f.name: getattr(state, f.name) for f in fields(state) if f.name != "memo"}


def _fold(engine: Engine, isolation: str) -> tuple[FoldState, bool]:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level=isolation)
        apart = _one_snapshot(conn)
        return fold_stored(conn, FoldState()), apart


def test_both_reads_fold_the_same_state(pg: Engine) -> None:
    apart, two = _fold(pg, "REPEATABLE READ")
    together, one = _fold(pg, "READ COMMITTED")
    assert two and not one
    assert apart.probes["target"] and apart.pods and apart.endpoints
    assert _fields(apart) == _fields(together) == _fields(load_state(pg))
    assert detect(apart) == detect(together)


def test_a_change_committed_between_the_reads_is_not_seen(pg: Engine) -> None:
    """Another connection deletes every LB target fact after the reading transaction began:
    under REPEATABLE READ both COPYs read the snapshot from before it (the whole state); a
    READ COMMITTED reading begun after it reads none of them, and every other fact."""
    whole = load_state(pg)
    with pg.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.execute(text("SELECT count(*) FROM facts"))  # the snapshot taken
        with pg.begin() as other:
            other.execute(text("DELETE FROM facts WHERE fact = 'target'"))
        state = fold_stored(conn, FoldState())
    assert _fields(state) == _fields(whole)
    after, one = _fold(pg, "READ COMMITTED")
    assert not one and not after.probes["target"] and whole.probes["target"]
    assert after.pods == whole.pods and after.probes["health"] == whole.probes["health"]


def test_autocommit_is_never_read_apart(pg: Engine) -> None:
    with pg.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        assert not _one_snapshot(conn)


def test_the_other_facts_fold_while_the_probe_facts_stream(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each `_EVERY` rows of the other facts' fold, what the server has sent of the probe
    facts by then is read (`take`: whatever came, nothing when nothing did), and once the fold
    is done the rest; the state is the one read in
    one COPY. (Whether a given look finds rows depends on the server's pace, so the test counts
    the looks, not the pieces each found.)"""
    log: list[str] = []
    take = copyfold._Stream.take
    monkeypatch.setattr(copyfold, "_EVERY", 2)

    def looked(stream: copyfold._Stream) -> None:
        log.append("take")
        take(stream)

    def logged(state: FoldState, rows: Iterable[Sequence[Any]]) -> FoldState:
        def each() -> Iterator[Sequence[Any]]:
            for row in rows:
                log.append("row")
                yield row

        return fold(state, each())

    monkeypatch.setattr(copyfold._Stream, "take", looked)
    monkeypatch.setattr(copyfold, "fold", logged)
    with pg.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        state = fold_stored(conn, FoldState())
    others = log.count("row")
    assert others > 10
    # the other facts' COPY (read whole: `table`), the probe facts' begun, a look ahead of each
    # two rows of the other facts' fold, then the rest of the probe facts
    between = [step for i in range(others) for step in (["take"] if i % 2 == 0 else []) + ["row"]]
    assert log == ["take", "take", *between, "take"]
    assert _fields(state) == _fields(_fold(pg, "READ COMMITTED")[0])
