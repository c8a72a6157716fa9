"""Access-log lines as clock evidence (replay.logclock): the LB's failed requests towards a node
must lie inside a window on that node; lines outside every window estimate how far the access
log's clock is off the recorder's, where enough of them agree.

The cluster is tests/replay/test_membership.py's rollout (literal Kubernetes objects and
CloudTrail records through the real importer): n1's only pod stops serving at 40 s and the CCM
deregisters n1 at 43 s, so a window on n1 may run from 39.5 s (no kube-proxy metrics: its own
watch may have delivered the slice seen at 40 s up to the 0.5 s watch skew before the
recorder's) to 49 s. The access-log lines are
ALB entries in the field order of AWS's "Access log entries" guide (its HTTP example, with the
LB's own 502: no target answer, request_processing_time -1), parsed by the real importer and
tied to n1 by its InternalIP and the Service's NodePort 32999.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.importers.accesslog import parse
from gapwatch.recorder.importers.base import Context
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, logclock
from gapwatch.replay.assumptions import seconds_us
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.impact import access_impact, failed_requests
from gapwatch.replay.logclock import OutsideKept, best_range, counted, log_clocks
from gapwatch.replay.model import Window
from tests.replay.builders import CLUSTER, at, facts_of
from tests.replay.test_membership import SETTINGS, rollout

N1_IP = "10.0.1.12"


def alb_502(t: float, target: str = f"{N1_IP}:32999") -> Observation:
    """One ALB line: the request came in at `t` s (request_creation_time), the LB answered
    502 a millisecond later with no answer from the target."""
    created = at(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    answered = (at(t) + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line = (
        f"http {answered} app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 {target} "
        '-1 -1 -1 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
        "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
        f'73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 {created} '
        f'"forward" "-" "-" "{target}" "-" "-" "-"'
    )
    (obs,) = parse(line, Context(cluster=CLUSTER, file="alb.log"))
    assert isinstance(obs, Observation)
    return obs


def _history(*lines: Observation) -> list[Observation]:
    """The rollout, with n1 given its InternalIP (Node status.addresses)."""
    out = []
    for obs in rollout():
        if obs.kind == "Node":
            status = dict(
                obs.payload["status"], addresses=[{"type": "InternalIP", "address": N1_IP}]
            )
            obs = replace(obs, payload=dict(obs.payload, status=status))
        out.append(obs)
    return [*out, *lines]


def _run(*lines: Observation) -> tuple[FoldState, list[Window]]:
    state = fold(FoldState(), facts_of(_history(*lines)))
    return state, detect(state, settings=SETTINGS)


def test_lines_inside_the_window_estimate_nothing_and_are_counted() -> None:
    state, windows = _run(*(alb_502(t) for t in (41, 42, 44, 46, 48)))
    assert [(w.node, w.start_earliest_us, w.end_latest_us) for w in windows] == [
        ("n1", seconds_us(at(39.5).timestamp()), seconds_us(at(49).timestamp()))
    ]
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    assert (clock.lines, clock.outside, clock.estimated) == (5, 0, False)
    assert "inside windows" in clock.describe(SETTINGS)
    assert [w.failed_requests for w in counted(state, windows, SETTINGS)] == [5]
    # nothing estimated, no skew: replay.impact's count, exactly
    assert counted(state, windows, SETTINGS) == failed_requests(state, windows)


def test_a_log_clock_ahead_is_estimated_from_the_lines_outside() -> None:
    """The LB's clock 15 s ahead: failures that happened at 41-47 s are logged at 56-62 s, after
    the window on every reading. Each allows offsets [t - 49 - 1, t - 39.5 + 1] s; all seven
    allow 12..17.5 s, none allows 0: the estimate is 12 s (the nearest 0, a lower bound), and
    the window counts the seven lines over the whole range."""
    state, windows = _run(*(alb_502(t) for t in range(56, 63)))
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    assert (clock.lines, clock.outside, clock.explained) == (7, 7, 7)
    assert (clock.offset_us, clock.lo_us, clock.hi_us) == (
        seconds_us(12),
        seconds_us(12),
        seconds_us(17.5),
    )
    assert "measured from 7 of 7 failed lines" in clock.describe(SETTINGS)
    assert [w.failed_requests for w in counted(state, windows, SETTINGS)] == [7]


def test_a_log_clock_behind_is_estimated_too() -> None:
    """20 s behind: failures at 41-47 s logged at 21-27 s, before the window opened."""
    state, windows = _run(*(alb_502(t) for t in range(21, 28)))
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    # line 21 allows [21-50, 21-38.5] = [-29, -17.5], line 27 [-23, -11.5]: both -23..-17.5
    assert (clock.offset_us, clock.lo_us, clock.hi_us) == (
        seconds_us(-17.5),
        seconds_us(-23),
        seconds_us(-17.5),
    )
    assert [w.failed_requests for w in counted(state, windows, SETTINGS)] == [7]


def test_too_few_lines_outside_decide_nothing_and_the_skew_widens_the_count() -> None:
    """Three lines 2-4 s after the window (min_measurements 5): undecided; counted only with
    `clock_skew_s` wide enough to reach them."""
    lines = [alb_502(t) for t in (44, 51, 52, 53)]
    state, windows = _run(*lines)
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    assert (clock.lines, clock.outside, clock.estimated) == (4, 3, False)
    assert clock.describe(SETTINGS).startswith("undecided: 3 of 4 failed lines")
    assert [w.failed_requests for w in counted(state, windows, SETTINGS)] == [1]
    skewed = replace(SETTINGS, clock_skew_s=4.0)
    assert [w.failed_requests for w in counted(state, windows, skewed)] == [4]


def test_lines_that_disagree_are_outvoted_and_off_turns_it_off() -> None:
    """Five lines 15 s late and five inside the window: 12..17 s explains five, 0 explains
    five: no offset explains `min_measurements` more than 0 does."""
    lines = [alb_502(t) for t in (*range(56, 61), 41, 42, 43, 44, 45)]
    state, windows = _run(*lines)
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    assert (clock.outside, clock.estimated) == (5, False)
    ahead = [alb_502(t) for t in range(56, 63)]
    state, windows = _run(*ahead)
    off = replace(SETTINGS, access_clock_max_s=0.0)
    (clock,) = log_clocks(state, windows, off).values()
    assert (clock.outside, clock.estimated) == (7, False)


def test_a_line_on_a_node_without_windows_allows_no_offset() -> None:
    """n2 (no pod, no window) is not the Service's node: the line is not tied; and a line on
    n1 far outside the search range explains nothing either."""
    state, windows = _run(alb_502(400), alb_502(401, target="10.9.9.9:32999"))
    (clock,) = log_clocks(state, windows, SETTINGS).values()
    assert (clock.lines, clock.outside, clock.estimated) == (1, 1, False)


def test_best_range_prefers_the_run_nearest_zero() -> None:
    # two lines allow [5, 8] and [-9, -6] each; one allows both: ties go to the nearer run
    lines = [[(5, 8), (-9, -6)], [(5, 8)], [(-9, -6)], [(-7, 20)]]
    assert best_range(lines, 100) == (5, 8, 3)
    assert best_range([[(-1, 1)], [(0, 3)]], 100) == (0, 1, 2)
    assert best_range([[(200, 300)]], 100) == (0, 0, 0)


def test_the_store_counts_on_the_log_clock_and_assumptions_says_so(store_url: str) -> None:
    """Through a real store (SQLite and PostgreSQL) and the CLI: the window's failed requests
    are counted on the estimated clock, and `gapwatch assumptions` names the offset and the
    lines it rests on. Under the default assumptions (the CCM may take 300 s) the window on n1
    runs from 39.5 s (the watch skew before the slice was seen) to past 340 s, so the log 20 s
    behind (failures at 41-47 s logged at 21-27 s) is what shows: -17.5 s, the nearest 0 of
    the offsets all seven lines allow."""
    engine = make_engine(store_url)
    try:
        EventWriter(engine, derive=write_facts).write_all(
            sorted(_history(*(alb_502(t) for t in range(21, 28))), key=lambda o: o.observed_at)
        )
        assert [w.failed_requests for w in api.windows(engine)] == [7]
    finally:
        engine.dispose()
    result = CliRunner().invoke(app, ["assumptions", "--db", store_url, "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["measured"]}
    clock = rows["access_log_clock_offset_s"]
    assert (clock["value"], clock["samples"]) == (-17.5, 7)
    assert clock["provenance"].startswith("measured from 7 of 7 failed lines")


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(
        st.tuples(st.lists(st.integers(21, 70), max_size=6), st.booleans()),
        min_size=1,
        max_size=5,
    )
)
def test_kept_outside_counts_give_what_a_fresh_count_gives(
    batches: list[tuple[list[int], bool]],
) -> None:
    """Lines arriving batch by batch, the impact extended as a refresh extends it, the windows
    there or not (their bounds move): the clocks found with each lane's outside count kept
    from the call before equal the clocks found from scratch, every time."""
    history = facts_of(_history())
    state = fold(FoldState(), history)
    windows = detect(state, settings=SETTINGS)
    impact = access_impact(state)
    kept: OutsideKept = {}
    last = max(f.event_id for f in history)
    for i, (times, with_windows) in enumerate(batches):
        had = {key: len(lines) for key, lines in state.access.items()}
        facts = facts_of([alb_502(t) for t in times])
        fold(state, [f._replace(event_id=last + 1000 * (i + 1) + f.event_id) for f in facts])
        impact = access_impact(state, impact, had)
        shown = windows if with_windows else []
        assert log_clocks(state, shown, SETTINGS, impact, kept) == log_clocks(
            state, shown, SETTINGS, access_impact(state)
        )


def test_a_lane_with_the_same_lines_and_windows_is_not_counted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, windows = _run(*(alb_502(t) for t in range(56, 63)))
    impact, kept = access_impact(state), {}  # type: ignore[var-annotated]
    first = log_clocks(state, windows, SETTINGS, impact, kept)
    assert kept
    monkeypatch.setattr(logclock, "_outside", lambda *_a: pytest.fail("counted again"))
    assert log_clocks(state, windows, SETTINGS, impact, kept) == first


def test_a_lane_the_impact_update_grew_counts_only_the_added_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seven lines outside the window, counted and kept; two more arrive (one inside the
    window, one outside), the impact extended as a refresh extends it: the lane's count adds
    the two lines counted alone to the seven, and the clocks equal those found from scratch
    (counting the seven again, or not counting the two, would not give them)."""
    state, windows = _run(*(alb_502(t) for t in range(56, 63)))
    impact, kept = access_impact(state), {}  # type: ignore[var-annotated]
    log_clocks(state, windows, SETTINGS, impact, kept)
    had = {key: len(lines) for key, lines in state.access.items()}
    last = max(max(f.event_id for f in facts_of(_history())), 1000)
    added = facts_of([alb_502(44), alb_502(70)])
    fold(state, [f._replace(event_id=last + 1000 + f.event_id) for f in added])
    impact = access_impact(state, impact, had)
    counts: list[int] = []
    outside = logclock._outside

    def counted(times: list[int], bounds: list[tuple[int, int]], slack: int) -> int:
        counts.append(len(times))
        return outside(times, bounds, slack)

    monkeypatch.setattr(logclock, "_outside", counted)
    (grown,) = log_clocks(state, windows, SETTINGS, impact, kept).values()
    assert counts == [2]
    (fresh,) = log_clocks(state, windows, SETTINGS, access_impact(state)).values()
    assert grown == fresh and (grown.lines, grown.outside) == (9, 8)
