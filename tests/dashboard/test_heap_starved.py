"""A page's own SQLite read refused at the heap cap a SQL console query holds: retried, then
said in one line, never a traceback.

The console caps the process's SQLite heap (dashboard/sqlitemem.py): SQLite has no cap per
connection, so a page read that falls in the moment a console query holds the heap at the cap
failed with "out of memory" and the page showed a MemoryError traceback (session 31 left it).
Here the cap is set just above what the process's SQLite holds, as a console query at its cap
would leave it, and the page runs in process (AppTest, one SQLite library): the query
"ending" is the cap lifted while the page waits (`heapshare.wait_for_room`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard import heapshare
from gapwatch.dashboard.sqlitemem import hard_heap_limit, sqlite_heap
from tests.dashboard.test_markdown_names import renamed_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _hard_limit() -> Callable[[int], int]:
    hard = hard_heap_limit()
    assert hard is not None
    return hard


@pytest.fixture
def squeeze(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """A store of its own (no cached read of it in this process) in GAPWATCH_DB; calling the
    fixture's value sets the heap cap just above the SQLite memory in use. The cap in force
    before is put back afterwards."""
    monkeypatch.setenv("GAPWATCH_DB", renamed_store(tmp_path, {}, "c1"))
    hard, used = _hard_limit(), sqlite_heap()
    assert used is not None
    before = hard(-1)

    def squeeze() -> None:
        hard(used() + 16 * 1024)

    yield squeeze
    hard(before)


def test_a_starved_page_is_drawn_once_the_heap_has_room(
    squeeze: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    lifted: list[bool] = []

    def query_ended() -> bool:  # the console query gave the heap back
        _hard_limit()(0)
        lifted.append(True)
        return True

    monkeypatch.setattr(heapshare, "wait_for_room", query_ended)
    at = AppTest.from_file(APP, default_timeout=60)
    squeeze()
    at.run()
    assert lifted == [True]  # the first run was refused, and retried
    assert not at.exception, [e.value for e in at.exception]
    assert heapshare.REFUSED not in [e.value for e in at.error]
    assert any("Rollouts" in s.value or "rollouts" in s.value for s in at.subheader), [
        s.value for s in at.subheader
    ]


def test_a_page_starved_twice_says_why_in_one_line(
    squeeze: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heapshare, "wait_for_room", lambda: False)
    at = AppTest.from_file(APP, default_timeout=60)
    squeeze()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [heapshare.REFUSED]


def test_waiting_for_room_ends_when_the_heap_falls_below_half_its_cap() -> None:
    now = [0.0]
    held = iter([900, 800, 300])
    assert heapshare.wait_for_room(
        used=lambda: next(held), cap=lambda: 1000, clock=lambda: now[0], sleep=lambda s: None
    )
    stuck = heapshare.wait_for_room(
        used=lambda: 900,
        cap=lambda: 1000,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert stuck is False and now[0] >= heapshare.WAIT_S
