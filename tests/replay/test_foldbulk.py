"""The bulk fold of probe/LB samples (what replay.load uses on PostgreSQL) builds what the plain
row fold builds from the same facts: lanes, the newest look, the look period, the last id.

Random probe and LB rows from hypothesis, with what a real log holds besides samples in time
order: samples that step back in time (a poller's late page), repeats right after such a step,
samples stored without a previous look, `resume` looks and samples marked `resumed` (num3), NodePort
latencies, and a second chunk folded onto a state that already has lanes (an incremental fold).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay import foldbulk
from gapwatch.replay.copyfold import _FACT_TYPES, _PROBE_COLUMNS, _fold_probe_columns
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, fold, keep_sample

LANES = (("health", "n1"), ("health", "n2"), ("nodeport", "n1"), ("target", "n1"))
LOOKS = (None, "first", "change", "heartbeat", "resume")
VALUES = {"health": ("200", "503"), "nodeport": ("connected", "timeout"), "target": ("healthy",)}


#: times are microseconds since the epoch, as stored (2026-01-01 here): never negative, which
#: the bulk path's -1 for NULL relies on (a NodePort answer at 0 s with 0.4 s of latency would
#: describe a look at -0.4 s, a time no log holds)
_EPOCH_2026_US = 1_767_225_600_000_000
_SECONDS = st.integers(0, 30).map(lambda s: _EPOCH_2026_US + s * 1_000_000)


def _lane_row(fact: str, node: str) -> st.SearchStrategy[dict[str, Any]]:
    """One sample of a lane: its time, previous look, NodePort latency, value, the prober's look
    (a `resume` names no look gap; a target's text1 is its group) and whether it is a restarted
    prober's or poller's first look (num3)."""
    return st.fixed_dictionaries(
        {
            "fact": st.just(fact),
            "node": st.just(node),
            "at_us": _SECONDS,
            "prev_us": st.none() | _SECONDS,
            "num1": st.none() | st.integers(0, 3).map(lambda n: n * 400_000),
            "state": st.sampled_from(VALUES[fact]),
            "text1": st.sampled_from(LOOKS) if fact != "target" else st.just("arn:tg"),
            "num3": st.sampled_from((None, 1)),
        }
    )


# built once: hypothesis spends most of a run building strategies when a composite makes them
# per row (52 s for 300 examples; the same draws from these take a few seconds)
_ROWS = st.lists(st.one_of([_lane_row(fact, node) for fact, node in LANES]), max_size=40)


@st.composite
def probe_rows(draw: st.DrawFn, first_id: int) -> list[tuple[Any, ...]]:
    """Fact rows (FACT_COLUMNS order) of a few lanes, interleaved in event id order."""
    rows: list[tuple[Any, ...]] = []
    for event_id, sample in enumerate(draw(_ROWS), start=first_id):
        row = dict.fromkeys(FACT_COLUMNS)
        row.update(sample, event_id=event_id, seq=0, cluster="c", op="OBSERVED", namespace="ns")
        row.update(name="gw")
        rows.append(tuple(row[c] for c in FACT_COLUMNS))
    return rows


def _bulk(state: FoldState, rows: list[tuple[Any, ...]]) -> FoldState:
    columns = {c: [r[i] for r in rows] for i, c in enumerate(FACT_COLUMNS)}
    table = pa.table({c: pa.array(columns[c], type=_FACT_TYPES[c]) for c in _PROBE_COLUMNS})
    _fold_probe_columns(state, table)
    return state


def _same(bulk: FoldState, plain: FoldState) -> None:
    assert bulk.probes == plain.probes
    assert bulk.seen == plain.seen
    assert bulk.look_gap == plain.look_gap
    assert bulk.newest_kept == plain.newest_kept
    assert bulk.last_event_id == plain.last_event_id


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bulk_fold_equals_the_row_fold(data: st.DataObject) -> None:
    earlier = data.draw(probe_rows(1))
    later = data.draw(probe_rows(1000))
    plain = fold(fold(FoldState(), earlier), later)
    bulk = fold(FoldState(), earlier)  # the lanes an earlier fold left
    if later:
        _bulk(bulk, later)
    _same(bulk, plain)


def test_a_repeat_after_a_step_back_is_kept_only_when_earlier_than_the_last_kept() -> None:
    def row(event_id: int, at_s: int, value: str) -> tuple[Any, ...]:
        values = dict.fromkeys(FACT_COLUMNS)
        values.update(
            event_id=event_id, seq=0, cluster="c", at_us=at_s * 1_000_000, prev_us=None,
            fact="health", op="OBSERVED", namespace="ns", name="gw", node="n1", state=value,
        )  # fmt: skip
        return tuple(values[c] for c in FACT_COLUMNS)

    # 503 at 10 s, repeats at 20 s (dropped), back to 15 s (not earlier than 10 s: dropped),
    # then 200 at 30 s, and a 200 at 25 s: earlier than the 200 kept at 30 s, so kept
    rows = [row(1, 10, "503"), row(2, 20, "503"), row(3, 15, "503"), row(4, 30, "200")]
    rows.append(row(5, 25, "200"))
    bulk = _bulk(FoldState(), rows)
    (lane,) = bulk.probes["health"].values()
    kept = [(s.at_us // 1_000_000, s.value) for s in lane]
    assert kept == [(10, "503"), (30, "200"), (25, "200")]
    _same(bulk, fold(FoldState(), rows))


def test_a_lane_with_a_late_answer_goes_through_keep_sample_only_at_the_late_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A late answer makes its lane one to fold in order (a restoring sample may follow it),
    but only the rows earlier than a look before them need `keep_sample`: the runs of the
    others are kept as whole columns, and the lane, its newest look, look gap and newest kept
    sample are the row fold's (replay.py's store: 4,900 late rows of 107,100 in such lanes)."""

    def row(event_id: int, at_s: int, value: str) -> tuple[Any, ...]:
        values = dict.fromkeys(FACT_COLUMNS)
        values.update(
            event_id=event_id, seq=0, cluster="c", at_us=_EPOCH_2026_US + at_s * 1_000_000,
            prev_us=_EPOCH_2026_US + (at_s - 2) * 1_000_000, fact="health", op="OBSERVED",
            namespace="ns", name="gw", node="n1", state=value,
        )  # fmt: skip
        return tuple(values[c] for c in FACT_COLUMNS)

    # every 2 s a look, 503 from 100 s on; at id 30 a late 503 answered for 5 s (after the
    # look at 58 s, which saw 200: a restoring sample at 58 s), at id 80 a late 200 for 9 s
    rows = [row(i, 2 * i, "200" if i < 50 else "503") for i in range(1, 120)]
    rows[29] = row(30, 5, "503")
    rows[79] = row(80, 9, "200")
    calls: list[int] = []
    keep = keep_sample

    def counted(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        keep(*args, **kwargs)

    monkeypatch.setattr(foldbulk, "keep_sample", counted)
    bulk = _bulk(FoldState(), rows)
    (lane,) = bulk.probes["health"].values()
    kept = [((s.at_us - _EPOCH_2026_US) // 1_000_000, s.value) for s in lane]
    assert kept == [(2, "200"), (5, "503"), (58, "200"), (100, "503"), (9, "200")]
    assert len(calls) == 2  # the two late rows (each row after them is later than every look)
    _same(bulk, fold(FoldState(), rows))
