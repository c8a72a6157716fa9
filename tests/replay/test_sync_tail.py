"""A node's quiet and unbegun spans carried on from its last find (replay/sync_tail.py): the
plain functions' own (replay.synccount) after every batch of looks appended, and a refresh's
find of a node with thousands of kube-proxy metrics looks reads only the new ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay import sync_tail, synccount
from gapwatch.replay.fold import FoldState, SyncLook
from gapwatch.replay.syncs import index_looks
from tests.replay import builders

S = 1_000_000
SPAN, SKEW = 1 * S, S // 10
_WHERE = ("c", "n1")

#: one look: seconds after the previous (0: equal times), whether a sync ran (0, 1 or 2),
#: the sync's end before the look, its duration, a process restart, counted or not
_LOOK = st.tuples(
    st.sampled_from([0, 1, 5, 30]),
    st.sampled_from([0, 0, 1, 1, 2]),
    st.integers(0, 40),
    st.integers(0, 3),
    st.booleans(),
    st.sampled_from([True, True, True, False]),
    st.integers(0, 3),
)


def _grown(drawn: list[tuple[int, int, int, int, bool, bool, int]], looks: list[SyncLook]) -> None:
    """Looks appended as a prober's scrapes of one node come (times rising or equal)."""
    at = looks[-1].at_us if looks else 1_000 * S
    last = looks[-1] if looks else None
    syncs, busy, synced, process = 0, 0, at - 5 * S, 1
    if last is not None:
        syncs, busy, synced = last.syncs or 0, last.busy_us or 0, last.synced_us
        process = last.process_us or 1
    for gap, ran, before, took, restart, complete, latency in drawn:
        at += gap * S
        if restart:
            process, syncs, busy = process + 1, 0, 0
        if ran:
            syncs, busy, synced = syncs + ran, busy + took * S // 10, at - before * S // 10
        looks.append(
            SyncLook(at, synced, None, len(looks) + 1, complete, syncs, busy, process,
                     at + latency * S // 100)
        )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(_LOOK, max_size=12), min_size=1, max_size=8))
def test_carried_spans_are_the_plain_ones(
    batches: list[list[tuple[int, int, int, int, bool, bool, int]]],
) -> None:
    """A node's looks grown batch by batch (restarts, skipped and double syncs, pages that do
    not count, equal times): after each batch the carried spans equal `quiet_spans` and
    `unbegun_spans` of all the looks."""
    state = FoldState()
    looks: list[SyncLook] = []
    for batch in batches:
        _grown(batch, looks)
        got = sync_tail.spans(state, _WHERE, looks, SPAN, SKEW)
        want = synccount.quiet_spans(looks, SPAN, SKEW), synccount.unbegun_spans(looks, SPAN, SKEW)
        assert got == want


def test_other_settings_and_lists_are_read_whole() -> None:
    """Another span or skew, or another list than the one read (the looks out of time order:
    index_looks sorts a copy), is read whole, not carried from the trail."""
    state = FoldState()
    looks: list[SyncLook] = []
    _grown([(30, 1, 5, 1, False, True, 1)] * 20, looks)
    sync_tail.spans(state, _WHERE, looks, SPAN, SKEW)
    assert sync_tail.spans(state, _WHERE, looks, 2 * SPAN, 0) == (
        synccount.quiet_spans(looks, 2 * SPAN, 0),
        synccount.unbegun_spans(looks, 2 * SPAN, 0),
    )
    late = [*looks[:-1], looks[-1]._replace(at_us=looks[0].at_us - S)]
    ordered = index_looks(late).looks
    assert sync_tail.spans(state, _WHERE, ordered, SPAN, SKEW) == (
        synccount.quiet_spans(ordered, SPAN, SKEW),
        synccount.unbegun_spans(ordered, SPAN, SKEW),
    )


def test_a_find_reads_only_the_new_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 looks, then 10 more: the second call counts only the 10 (synccount.counted_looks
    is asked of no list of 100 looks; before, quiet_spans and unbegun_spans each read all
    5,010), and equals the plain functions."""
    state = FoldState()
    looks: list[SyncLook] = []
    _grown([(30, i % 3 % 2, 5, 1, False, True, 1) for i in range(5000)], looks)
    sync_tail.spans(state, _WHERE, looks, SPAN, SKEW)
    seen = builders.counted([synccount, sync_tail], "counted_looks", monkeypatch.setattr)
    _grown([(30, i % 2, 5, 1, False, True, 1) for i in range(10)], looks)
    got = sync_tail.spans(state, _WHERE, looks, SPAN, SKEW)
    assert seen == [10]
    monkeypatch.undo()
    assert got == (
        synccount.quiet_spans(looks, SPAN, SKEW),
        synccount.unbegun_spans(looks, SPAN, SKEW),
    )


def test_no_looks_keep_no_trail() -> None:
    """A node whose kube-proxy metrics were never scraped (replay.sync_index gives a new empty
    list each time, so a trail of it could never be carried on): no spans and nothing kept;
    its first looks are read whole."""
    state = FoldState()
    assert sync_tail.spans(state, _WHERE, [], SPAN, SKEW) == ([], [])
    assert _WHERE not in state.memo.sync_spans
    looks: list[SyncLook] = []
    _grown([(30, 1, 5, 1, False, True, 1)] * 5, looks)
    assert sync_tail.spans(state, _WHERE, looks, SPAN, SKEW) == (
        synccount.quiet_spans(looks, SPAN, SKEW),
        synccount.unbegun_spans(looks, SPAN, SKEW),
    )
