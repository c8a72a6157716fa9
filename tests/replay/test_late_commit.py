"""A look one replica committed after the other's newer change (issue 17, sigkill fault seed 6):
the late look slots in, and the change after it is still a change. Before, the lane's last
sample in arrival order (the late 200) made the next 200 a repeat: it was dropped, and NODE2's
health read 503 from 65 s to the end of the log (a certain window open for 233 s). Two late
looks in a row hid the change back from a check of the lane's last two samples; and a late look
costs no scan of the lane (the newest sample in time is kept as an index).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from gapwatch.replay.copyfold import _FACT_TYPES, _PROBE_COLUMNS, _fold_probe_columns
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, Sample, fold, sorted_lane
from gapwatch.replay.model import ServiceRef
from tests.replay.builders import CLUSTER, NS, SVC, facts_of, health

GW = ServiceRef(CLUSTER, NS, SVC)


def _looks() -> list[Any]:
    """NODE2's health looks in the order the store holds them (event ids)."""
    return [
        health(64.34, 63.3, "n2", 1),  # replica A's heartbeat
        health(65.36, 64.3, "n2", 0),  # replica A: the change to 503
        health(64.60, 63.6, "n2", 1),  # replica B's heartbeat, committed after A's change
        health(70.45, 69.3, "n2", 1),  # replica A: the change back to 200
    ]


def _bulk_table(rows: list[Any]) -> pa.Table:
    """The facts as the columns replay.load reads from PostgreSQL."""
    return pa.table(
        {
            c: pa.array([r[FACT_COLUMNS.index(c)] for r in rows], type=_FACT_TYPES[c])
            for c in _PROBE_COLUMNS
        }
    )


def _bulk(state: FoldState, rows: list[Any]) -> FoldState:
    _fold_probe_columns(state, _bulk_table(rows))
    return state


def _values(state: FoldState) -> list[tuple[float, str]]:
    lane = state.probes["health"][(GW, "n2")]
    return [(round(s.at_us / 1e6 % 3600, 2), s.value) for s in sorted_lane(lane)]


def test_a_change_after_a_late_committed_look_is_kept() -> None:
    rows = facts_of(_looks())
    for state in (fold(FoldState(), rows), _bulk(FoldState(), rows)):
        assert _values(state)[-2:] == [(65.36, "503"), (70.45, "200")]


def test_the_change_in_a_later_fold_is_kept_too() -> None:
    # the change back arrives in the next refresh (an incremental fold, either path)
    rows = facts_of(_looks())
    for later in (fold, _bulk):
        state = later(fold(FoldState(), rows[:3]), rows[3:])
        assert _values(state)[-1] == (70.45, "200")


def test_a_change_after_two_late_committed_looks_is_kept() -> None:
    rows = facts_of(
        [
            *_looks()[:3],
            health(64.90, 64.6, "n2", 1),  # replica B's next look, committed late too
            _looks()[3],
        ]
    )
    for state in (fold(FoldState(), rows), _bulk(FoldState(), rows)):
        assert _values(state)[-2:] == [(65.36, "503"), (70.45, "200")]
    for later in (fold, _bulk):  # the change back in the next refresh
        state = later(fold(FoldState(), rows[:4]), rows[4:])
        assert _values(state)[-1] == (70.45, "200")


class _NoScan(list[Sample]):
    """A lane that fails when it is walked (indexing and appending are allowed)."""

    def __iter__(self) -> Any:
        raise AssertionError("the lane was scanned")


def test_a_late_look_costs_no_scan_of_the_lane() -> None:
    many = [health(i, i - 1 if i else None, "n2", i % 2) for i in range(200)]  # 503, 200, ...
    rows = facts_of([*many, health(198.5, 198, "n2", 1), health(198.2, 198, "n2", 0)])
    state = fold(FoldState(), rows[:200])
    key = ("health", CLUSTER, NS, SVC, "n2")
    lane = _NoScan(state.lanes[key])
    state.lanes[key] = state.probes["health"][(GW, "n2")] = lane
    assert len(lane) == 200
    fold(state, rows[200:])  # two looks committed late: each is judged without a scan
    assert [lane[-2].at_us, lane[-1].at_us] == [rows[200].at_us, rows[201].at_us]
