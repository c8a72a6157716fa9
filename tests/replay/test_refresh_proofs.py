"""What a refresh keeps for the LB's failed requests (round 10 of issue 15, replay/node_cache.py
and replay/accessed.py): each test refreshes the per-node cache batch by batch and compares it
with `detect` on the whole state, at a step where the shortcut it checks is taken. The last
checks the segment rows' diff in memory (replay.segment_store.changed) against the plain
multiset difference.

The history is tests/replay/test_suffix.py's (n1 and n2 probed every 5 s, their LB targets
polled every 10 s; on n1 kube-proxy refuses at 100-105 s, a window found from the samples),
with n1 given an InternalIP so that ALB access-log lines name it."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import node_cache, projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import Window
from gapwatch.replay.segment_store import changed
from tests.replay.builders import at, facts_of
from tests.replay.test_logclock import N1_IP, alb_502
from tests.replay.test_projections import _tables
from tests.replay.test_suffix import _history as _suffix_history


def _history() -> list[Observation]:
    out = []
    for obs in _suffix_history():
        if obs.kind == "Node" and obs.name == "n1":
            status = dict(
                obs.payload["status"], addresses=[{"type": "InternalIP", "address": N1_IP}]
            )
            obs = replace(obs, payload=dict(obs.payload, status=status))
        out.append(obs)
    return out


def _steps(*cuts: float, lines: tuple[float, ...]) -> list[tuple[list[Window], list[Window]]]:
    """The history folded up to each cut in turn, then the failed lines at `lines` (s) after
    it all; per step, what the cache gives and what `detect` gives."""
    history = _history()
    facts = facts_of([*history, *(alb_502(t) for t in lines)])
    split = len(facts_of(history))
    bounds = [to_micros(at(c)) for c in cuts]
    batches = [[f for f in facts[:split] if lo < f.at_us <= hi]
               for lo, hi in zip([-1, *bounds], [*bounds, 2**62], strict=True)]  # fmt: skip
    batches.append(facts[split:])
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    out = []
    for batch in batches:
        state = fold(state, batch)
        (svc,) = lb_facing(state)
        found = node_cache.windows(state, svc, DEFAULTS, cache)
        out.append((found, detect(state, [svc], DEFAULTS)))
    return out


def test_a_kept_node_reads_its_proven_windows_from_the_lanes_found_last() -> None:
    # n1 found before its window (90 s), found again with it (the rest of the history), then
    # lines alone arrive: n1 is kept and its window, proven past the samples' sure end, is read
    # again from the lanes kept with it. Lanes kept from the first step (before the window
    # existed) read nothing there: the window would keep the samples' sure end.
    *_earlier, (before, _), (after, rebuilt) = _steps(90, lines=(108.5,))
    assert after == rebuilt
    (was,) = (w for w in before if w.node == "n1" and w.start_earliest_us < to_micros(at(200)))
    (now,) = (w for w in after if w.node == "n1" and w.start_earliest_us < to_micros(at(200)))
    assert now.end_earliest_us > was.end_earliest_us


def test_the_counts_read_the_log_clock_the_proofs_were_found_on(engine: Engine) -> None:
    # seven failures at 100-106 s logged 15 s ahead (115-121 s): outside n1's window at zero
    # offset, all inside it on the clock replay.logclock estimates. The refresh counts them on
    # the clock node_cache estimated for the proofs (the same windows' outer bounds), not on
    # one estimated again: without it the window would count none of them.
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(_history())
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    writer.write([alb_502(t + 15) for t in range(100, 107)])
    projections.refresh(engine, checkpoint=cp)
    refreshed = _tables(engine)
    (svc,) = cp.windows
    assert cp.windows[svc].clocks[svc].estimated
    with engine.connect() as conn:
        counts = conn.execute(
            text("SELECT failed_requests FROM replay_windows WHERE node = 'n1'")
        ).scalars()
        assert 7 in list(counts)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed


def test_the_proofs_each_window_held_are_kept_as_a_fresh_look_finds_them() -> None:
    # lines arrive in three batches on n1's window at 100-110 s, each proving more of it; the
    # proofs each window held are kept with the node (`held`) and read as the previous entry's
    # by the next refresh: kept as `_held` finds them, and every step equals detect
    history = _history()
    batches = [[alb_502(107.5)], [alb_502(108.5)], [alb_502(109.0), alb_502(101.0)]]
    facts = facts_of([*history, *(o for b in batches for o in b)])
    split = len(facts_of(history))
    state, cache = fold(FoldState(), facts[:split]), {}  # type: ignore[var-annotated]
    (svc,) = lb_facing(state)
    node_cache.windows(state, svc, DEFAULTS, cache)
    for batch in batches:
        state = fold(state, facts[split : split + len(batch)])
        split += len(batch)
        assert node_cache.windows(state, svc, DEFAULTS, cache) == detect(state, [svc], DEFAULTS)
        entry = cache[svc].nodes["n1"]
        assert entry.proofs
        assert entry.held == node_cache._held(entry.plain, entry.proofs)


_ROWS = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3)), max_size=12)


@given(_ROWS, _ROWS, _ROWS, _ROWS)
def test_kept_segment_rows_differ_by_their_multisets_between_equal_heads_and_tails(
    head: list[tuple[str, int]],
    old: list[tuple[str, int]],
    new: list[tuple[str, int]],
    tail: list[tuple[str, int]],
) -> None:
    # replay.segment_store.write_tails diffs a lane's kept rows with its new ones: counting only
    # what lies between their equal heads and tails gives the plain multiset difference
    was, now = head + old + tail, head + new + tail
    stale, added = changed(was, now)
    assert Counter(stale) == Counter(was) - Counter(now)
    assert Counter(added) == Counter(now) - Counter(was)
