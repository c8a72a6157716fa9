"""Projection rows rewritten as a diff (replay.row_diff, replay.projection_rows): only rows that
differ are deleted or inserted, equal rows are counted as a multiset, and the grouping sweep
gives each window the group the plain scan over every span gives."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from gapwatch.replay import group as grouping
from gapwatch.replay import row_diff
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.projection_rows import write_rows
from gapwatch.replay.tables import replay_rollouts, replay_windows

SVC = ServiceRef("diff", "ns", "gw")


def _window(node: str, start: int, end: int, cls: str = "closed-before-deregistered") -> Window:
    return Window(
        service=SVC, node=node, cls=cls, start_us=start, end_us=end,  # type: ignore[arg-type]
        start_earliest_us=start, start_latest_us=start, end_earliest_us=end, end_latest_us=end,
        provenance="measured", opened_by=(1,), closed_by=(2,), certain=True,
    )  # fmt: skip


def _ids(engine: Engine) -> dict[tuple[str, int], list[int]]:
    out: dict[tuple[str, int], list[int]] = {}
    with engine.connect() as conn:
        t = replay_windows.c
        for i, node, start in conn.execute(select(t.id, t.node, t.start_us).order_by(t.id)):
            out.setdefault((node, start), []).append(i)
    return out


def test_only_changed_rows_are_rewritten(engine: Engine) -> None:
    same = _window("n1", 1_000, 2_000)
    kept, moved = _window("n2", 5_000, 6_000), _window("n3", 7_000, 8_000)
    with engine.begin() as conn:
        write_rows(conn, [same, same, kept, moved], [], [], diff=SVC)
    before = _ids(engine)
    assert len(before[("n1", 1_000)]) == 2  # two equal rows are two rows
    reopened = _window("n3", 7_000, 9_000)  # the last window ends later now
    with engine.begin() as conn:
        write_rows(conn, [same, kept, reopened], [], [], diff=SVC)
    after = _ids(engine)
    assert len(after[("n1", 1_000)]) == 1 and after[("n1", 1_000)][0] in before[("n1", 1_000)]
    assert after[("n2", 5_000)] == before[("n2", 5_000)]  # untouched row, same id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(replay_windows)).scalar_one() == 3
        end = conn.execute(select(replay_windows.c.end_us).where(replay_windows.c.node == "n3"))
        assert end.scalar_one() == 9_000


def test_a_rollout_keeps_its_id_and_takes_its_new_end(engine: Engine) -> None:
    span = Rollout("ro-1", SVC, "rollout", "Deployment/ns/gw", "a", "b", 0, 10, (), ("n1",))
    with engine.begin() as conn:
        write_rows(conn, [], [span], [], diff=SVC)
        write_rows(conn, [], [dataclasses.replace(span, end_us=20)], [], diff=SVC)
    with engine.connect() as conn:
        rows = conn.execute(select(replay_rollouts.c.id, replay_rollouts.c.end_us)).all()
    assert [tuple(r) for r in rows] == [("ro-1", 20)]


def test_stale_and_new_is_a_multiset_difference(engine: Engine) -> None:
    with engine.begin() as conn:
        write_rows(conn, [_window("n1", 1, 2)] * 3, [], [], diff=SVC)
        columns = ("node", "start_us")
        stale, new = row_diff.stale_and_new(
            conn, replay_windows, "id", SVC, columns, [("n1", 1), ("n1", 1), ("n2", 5)]
        )
    assert len(stale) == 1 and new == [("n2", 5)]


_T = st.integers(min_value=0, max_value=60)
Changes = dict[tuple[str, str], list[tuple[int, str]]]


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[Window], list[Rollout], Changes]:
    nodes = ("n1", "n2")
    spans = []
    for i in range(draw(st.integers(0, 5))):
        start = draw(_T)
        end = start + draw(st.integers(0, 20))
        if draw(st.booleans()):
            spans.append(Rollout(f"ro-{i}", SVC, "rollout", "w", "a", "b", start, end, (), nodes))
        else:
            node = draw(st.sampled_from(nodes))
            spans.append(
                Rollout(f"nd-{i}", SVC, "node-disruption", f"Node/{node}", None, None,
                        start, end, (), (node,))
            )  # fmt: skip
    spans.sort(key=lambda r: (r.start_us, r.id))
    windows = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(_T)
        cls = draw(st.sampled_from(["node-not-ready", "closed-before-deregistered"]))
        windows.append(_window(draw(st.sampled_from(nodes)), start, start + 3, cls))
    windows.sort(key=lambda w: w.start_us)
    changes = {
        ("w", n): sorted(draw(st.lists(st.tuples(_T, st.sampled_from("abc")), max_size=4)))
        for n in nodes
    }
    return windows, spans, changes


@settings(max_examples=300, deadline=None)
@given(case=_case(), settle=st.integers(min_value=0, max_value=10))
def test_the_sweep_gives_each_window_the_plain_scans_group(
    case: tuple[list[Window], list[Rollout], Changes],
    settle: int,
) -> None:
    """Windows at a span's start, at its end plus settle_s, changes at the edges of a window's
    start range: `_causes` (the sweep) equals `_cause` against every span."""
    windows, spans, changes = case
    plain = [grouping._cause(w, spans, changes, settle) for w in windows]
    assert grouping._causes(windows, spans, changes, settle) == plain
