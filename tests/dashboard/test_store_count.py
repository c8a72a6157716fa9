"""The sidebar's event count: right after every change of the log, without counting the whole
log on every page (dashboard.eventcount).

Before, `data.store_info` ran `SELECT count(*) FROM events` (74-86 ms of CPU a look on the
1.1M-event `large` store) each time the store had a new version, which a recording store has
on every page; and the sidebar cached it by version, which a retention does not move: after one
the sidebar kept the count from before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard import data, eventcount
from gapwatch.dashboard.demo import build_demo_store
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.store.samples import real_observations
from tests.store.test_writer import shifted

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


@contextmanager
def _counts_sent(engine: Engine) -> Iterator[list[str]]:
    """The statements that count rows of `events`, as sent."""
    sent: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "count(" in statement.lower():
            sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_the_count_follows_new_events_without_counting_the_log(engine: Engine) -> None:
    eventcount.forget()
    writer = EventWriter(engine, derive=write_facts)
    writer.write(real_observations())
    assert data.store_info(engine).events == _count(engine)  # the first look counts
    for hours in (1, 2):
        writer.write(shifted(real_observations(), hours * 3600))
        with _counts_sent(engine) as sent:
            info = data.store_info(engine)
        assert info.events == _count(engine)
        assert sent and all(re.search(r"events\.id > ", s) for s in sent), sent


def test_the_count_after_a_retention_is_counted_again(engine: Engine) -> None:
    eventcount.forget()
    writer = EventWriter(engine, derive=write_facts)
    old = real_observations()
    if engine.dialect.name == "postgresql":
        maintain(engine, now=min(o.observed_at for o in old) - timedelta(days=1), ahead_days=60)
    writer.write(old)
    newest = max(o.observed_at for o in old)
    writer.write(shifted(real_observations(), 40 * 86400))
    before = data.store_info(engine).events
    done = maintain(engine, now=newest + timedelta(days=2), retention=timedelta(days=1))
    assert done.dropped.events > 0
    assert data.store_info(engine).events == _count(engine) == before - done.dropped.events


def test_the_sidebar_shows_the_count_after_a_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo store, its first 10 minutes dropped by a retention (its newest event stays, so
    the store's version does not move): the open dashboard's next run says how many are left."""
    demo = build_demo_store(tmp_path / "demo.db")
    monkeypatch.setenv("GAPWATCH_DB", demo.url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    engine = make_engine(demo.url)
    try:
        assert _shown(at) == _count(engine)
        cutoff = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
        assert maintain(engine, now=cutoff + timedelta(days=1), retention=timedelta(days=1))
        left = _count(engine)
    finally:
        engine.dispose()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _shown(at) == left


def _shown(at: AppTest) -> int:
    """The sidebar's "N events"."""
    (said,) = [c.value for c in at.sidebar.caption if " events" in c.value]
    found = re.search(r"([\d,]+) events", said)
    assert found is not None, said
    return int(found[1].replace(",", ""))
