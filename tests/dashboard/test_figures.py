"""Overview and what-if figures and the table rows, from hand-made windows and rollouts."""

from __future__ import annotations

import numpy as np
import pytest

from gapwatch.dashboard import figures, lanes, tables
from gapwatch.replay.model import WINDOW_CLASSES, WindowClass
from tests.dashboard.builders import T0, S, rollout, win


def test_gap_seconds_are_split_across_buckets() -> None:
    w = win("n1", "closed-before-deregistered", 8, 23)
    buckets = figures.gap_seconds_by_bucket([w], 10, T0)
    assert buckets == {"closed-before-deregistered": {T0: 2.0, T0 + 10 * S: 10.0, T0 + 20 * S: 3.0}}


def test_gap_seconds_over_time_stacks_classes_and_keeps_the_total() -> None:
    wins = [
        win("n1", "closed-before-deregistered", 8, 23),
        win("n2", "registered-before-forwarding", 100, 101.5),
        win("n3", "closed-before-deregistered", 300, 304),
    ]
    fig = figures.gap_seconds_over_time(wins)
    assert fig.layout.meta["total_s"] == pytest.approx(15 + 1.5 + 4)
    assert fig.layout.meta["bucket_s"] == 5  # a 296 s span in at most ~60 bars
    assert {t.name for t in fig.data} == {
        "closed-before-deregistered",
        "registered-before-forwarding",
    }
    drawn = sum(float(np.sum(t.y)) for t in fig.data)
    assert drawn == pytest.approx(20.5)
    assert fig.layout.barmode == "stack"


@pytest.mark.parametrize(
    ("span", "bucket"), [(30, 1), (600, 10), (7200, 300), (10**6, 21600), (10**7, 604800)]
)
def test_bucket_size_is_round_and_bounded(span: int, bucket: int) -> None:
    assert figures.pick_bucket_s(span) == bucket


def test_empty_overview_figures_say_clean() -> None:
    for fig in (figures.gap_seconds_over_time([]), figures.window_class_counts([])):
        assert "clean" in fig.layout.annotations[0].text


def test_rollouts_ranked_worst_first() -> None:
    mild = rollout("mild", 0, 60, (win("n1", "closed-before-deregistered", 1, 2),))
    bad = rollout(
        "bad",
        100,
        200,
        (
            win("n1", "closed-before-deregistered", 110, 115),
            win("n2", "registered-before-forwarding", 120, 121),
        ),
    )
    clean = rollout("clean", 300, 360, ())
    fig = figures.rollouts_ranked([mild, clean, bad])
    assert fig.layout.meta["ids"] == ["bad", "mild", "clean"]
    assert fig.layout.meta["gap_seconds"] == pytest.approx([6.0, 1.0, 0.0])
    cbd = next(t for t in fig.data if t.name == "closed-before-deregistered")
    assert list(cbd.x) == pytest.approx([5.0, 1.0, 0.0])
    assert list(cbd.customdata) == ["bad", "mild", "clean"]
    assert figures.rollout_label(bad).endswith("aaa→bbb @ 2026-11-18 11:08:20")


def test_class_counts_include_every_class() -> None:
    wins = [win("n1", "node-not-ready", 0, 1), win("n2", "node-not-ready", 0, 1)]
    counts = figures.window_class_counts(wins).layout.meta["counts"]
    assert counts == {c: (2 if c == "node-not-ready" else 0) for c in WINDOW_CLASSES}


def test_whatif_comparison_puts_both_sets_per_node() -> None:
    recorded = [
        win("n1", "closed-before-deregistered", 0, 4),
        win("n2", "pod-gone-before-deregistered", 5, 8),
    ]
    replayed = [win("n1", "closed-before-deregistered", 0, 1)]
    fig = figures.whatif_comparison(recorded, replayed)
    assert list(fig.layout.yaxis.categoryarray) == [
        "n1 · recorded",
        "n1 · what-if",
        "n2 · recorded",
        "n2 · what-if",
    ]
    assert fig.layout.meta["recorded_s"] == pytest.approx(7.0)
    assert fig.layout.meta["whatif_s"] == pytest.approx(1.0)
    after = next(t for t in fig.data if t.name == "closed-before-deregistered (what-if)")
    assert list(after.y) == ["n1 · what-if"]
    assert list(after.x) == [1000.0]


def test_window_rows_carry_the_json_contract_fields() -> None:
    w = win("n1", "closed-before-deregistered", 10, 12.5, slack_s=0.25, failed=4, rollout="r1")
    (row,) = tables.window_rows([w])
    assert set(tables.WINDOW_COLUMNS) <= set(row)  # what the table shows, as --json has it
    assert row["service"] == "istio-system/istio-ingressgateway"
    assert row["start"] == "2026-11-18T11:06:50.000000Z"
    assert (row["duration_s"], row["duration_min_s"], row["duration_max_s"]) == (2.5, 2.0, 3.0)
    assert (row["rollout"], row["failed_requests"]) == ("r1", 4)


def test_class_summary_counts_and_impact() -> None:
    wins = [
        win("n1", "closed-before-deregistered", 0, 2, failed=3),
        win("n2", "closed-before-deregistered", 0, 1, failed=None),
        win("n3", "registered-before-forwarding", 0, 5),
    ]
    summary = {r["class"]: r for r in tables.class_summary(wins)}
    assert summary["closed-before-deregistered"]["windows"] == 2
    assert summary["closed-before-deregistered"]["gap_s"] == 3.0
    assert summary["closed-before-deregistered"]["failed_requests"] == 3
    assert summary["registered-before-forwarding"]["failed_requests"] is None
    assert summary["node-not-ready"]["windows"] == 0


def test_undecided_windows_keep_their_class_and_name_the_others() -> None:
    both: tuple[WindowClass, ...] = ("registered-before-forwarding",)
    undecided = win("n1", "closed-before-deregistered", 0, 2, also=both)
    decided = win("n2", "closed-before-deregistered", 0, 1)
    wording = "closed-before-deregistered (or registered-before-forwarding: undecided)"
    assert undecided.class_text == wording and decided.class_text == decided.cls
    summary = {r["class"]: r for r in tables.class_summary([undecided, decided])}
    assert summary["closed-before-deregistered"]["windows"] == 2
    assert summary["closed-before-deregistered"]["undecided"] == 1
    assert summary["registered-before-forwarding"]["undecided"] == 0  # named, not counted
    rows = {r["node"]: r for r in tables.unowned_window_rows([undecided, decided], 0)}
    assert (rows["n1"]["class"], rows["n1"]["also"]) == ("closed-before-deregistered", both[0])
    assert rows["n2"]["also"] == ""
    assert lanes.window_label(undecided).startswith(f"proven · {wording} · ")
    assert tables.window_row(undecided)["also"] == list(both)  # as gaps --json has it
    # the what-if comparison's hover words each recorded and replayed window the same way
    fig = figures.whatif_comparison([undecided, decided], [decided])
    hovers = [c for t in fig.data for c in t.customdata]
    assert sorted(hovers) == sorted([wording, decided.cls, decided.cls])


def test_rollout_rows_rank_and_sum() -> None:
    rows = tables.rollout_rows(
        [
            rollout("a", 0, 10, (win("n1", "node-not-ready", 1, 2, failed=2),)),
            rollout("b", 0, 10, (win("n1", "node-not-ready", 1, 5),)),
        ]
    )
    assert [(r["id"], r["gap_s"], r["failed_requests"]) for r in rows] == [
        ("b", 4.0, None),
        ("a", 1.0, 2),
    ]


def test_rollout_page_slice_keeps_its_nodes_and_the_visible_range() -> None:
    from gapwatch.dashboard.data import slice_page, visible_range
    from tests.dashboard.builders import seg

    r = rollout("r", 100, 200, (win("n1", "node-not-ready", 150, 160),))
    segments = [
        seg("n1", "lb", "HEALTHY", 0, 50),  # ends before the range
        seg("n1", "lb", "DRAINING", 50, 120),  # overlaps its start
        seg("n1", "pod", "serving", 90, None),  # still open
        seg("n2", "lb", "HEALTHY", 100, 150),  # another node
        seg("n1", "proxy", "OPEN", 260, 300),  # after the range
    ]
    lo, hi = visible_range(r)
    assert (lo, hi) == (T0 + 85 * S, T0 + 215 * S)
    page = slice_page(r, segments, lo, hi)
    assert [(s.node, s.state) for s in page.segments] == [("n1", "DRAINING"), ("n1", "serving")]
    assert page.windows == list(r.windows)
    assert slice_page(r, segments, T0 + 170 * S, hi).windows == []


def test_large_rollouts_start_with_the_nodes_that_lost_most() -> None:
    wins = [
        win("a", "node-not-ready", 0, 1),
        win("b", "node-not-ready", 0, 5),
        win("c", "node-not-ready", 0, 3),
        win("a", "node-not-ready", 10, 13),
    ]
    assert tables.worst_nodes(wins, 2) == ["a", "b"]  # a: 4 s in two windows, b: 5 s
    assert tables.worst_nodes(wins, 10) == ["a", "b", "c"]
