"""The LB's failed requests as gap instants (replay.accessed): a failed access-log line tied to a
node proves the gap held at its dispatch, so the one window it falls in is certain and its sure
range holds the line.

The cluster is tests/replay/test_logclock.py's (test_membership's rollout with n1's InternalIP):
n1's only pod stops serving at 40 s and the CCM deregisters n1 at 43 s; the LB lane is CloudTrail
membership alone (endpoint-driven: R possible, never definite), so the samples leave one
uncertain window on n1 from 40 to 49 s. The lines are ALB entries in the field order of AWS's
"Access log entries" guide, parsed by the real importer.
"""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import node_cache
from gapwatch.replay.accessed import decided, lane_proofs
from gapwatch.replay.assumptions import seconds_us
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.logclock import counted
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.projections import compute
from tests.replay.builders import at, facts_of
from tests.replay.test_logclock import _history, _run, alb_502
from tests.replay.test_membership import SETTINGS

T0 = to_micros(at(0))


def _s(us: int) -> float:
    return (us - T0) / 1e6


def _bounds(w: Window) -> tuple[float, float, float, float]:
    return (
        _s(w.start_earliest_us),
        _s(w.start_latest_us),
        _s(w.end_earliest_us),
        _s(w.end_latest_us),
    )


def test_without_lines_the_window_is_uncertain() -> None:
    _state, (w,) = _run()
    assert (w.node, w.certain, _bounds(w)) == ("n1", False, (40.0, 49.0, 40.0, 49.0))


def test_a_failed_request_makes_its_window_certain() -> None:
    # a 502 whose request came in at 41 s: dispatched by 42 s (access_dispatch_s 1 s), so the
    # gap began by 42 s and lasted past 41 s; the outer bounds stay the samples'
    state, (w,) = _run(alb_502(41))
    assert w.certain
    assert _bounds(w) == (40.0, 42.0, 41.0, 49.0)
    assert w.cls == "closed-before-deregistered"
    (n,) = counted(state, [w], SETTINGS)
    assert n.failed_requests == 1 and n.certain


def test_several_failed_requests_widen_the_sure_range() -> None:
    _state, (w,) = _run(alb_502(41), alb_502(44), alb_502(47))
    assert w.certain
    assert _bounds(w) == (40.0, 42.0, 47.0, 49.0)
    assert w.duration_min_s == 5.0


def test_a_line_outside_every_window_proves_nothing() -> None:
    # at 60 s the node is deregistered: no window there (a failure that was no race, or a
    # clock the lines cannot estimate), and the window at 40-49 s gains nothing from it
    _state, (w,) = _run(alb_502(60))
    assert (w.certain, _bounds(w)) == (False, (40.0, 49.0, 40.0, 49.0))


def test_a_log_clock_ahead_is_read_on_the_estimated_offset() -> None:
    # seven failures at 41-47 s logged 15 s ahead (56-62 s): replay.logclock estimates
    # +12..+17 s, and on that clock each line's dispatch lies in [t - 17, t + 1 - 12] s: the
    # window holds them all. Without the estimate (access_clock_max_s 0) they lie after it.
    lines = [alb_502(t + 15) for t in range(41, 48)]
    _state, (w,) = _run(*lines)
    assert w.certain
    assert _bounds(w) == (40.0, 45.0, 45.0, 49.0)
    state = fold(FoldState(), facts_of(_history(*lines)))
    (off,) = detect(state, settings=replace(SETTINGS, access_clock_max_s=0.0))
    assert (off.certain, _bounds(off)) == (False, (40.0, 49.0, 40.0, 49.0))


def test_late_lines_prove_the_cached_window_as_detect_does() -> None:
    # ALB delivers its log every 5 minutes: the lines arrive after the window was found and
    # cached per node (replay.node_cache); the next refresh reads them as detect() does
    history = _history()
    lines = facts_of([*history, alb_502(41), alb_502(44)])[len(facts_of(history)) :]
    state = fold(FoldState(), facts_of(history))
    cache: node_cache.Cache = {}
    services = lb_facing(state)
    (before,), _r, _l = compute(state, services, SETTINGS, cache=cache)
    assert not before.certain
    state = fold(state, lines)
    (stored,), _r, _l = compute(state, services, SETTINGS, cache=cache)
    (found,) = detect(state, settings=SETTINGS)
    assert stored.certain and stored.failed_requests == 2
    assert replace(stored, rollout=None, failed_requests=None) == replace(found, rollout=None)


SVC = ServiceRef("c1", "ns", "svc")


def _window(start_s: float, end_s: float, certain: bool = False) -> Window:
    a, b = T0 + seconds_us(start_s), T0 + seconds_us(end_s)
    return Window(
        SVC, "n1", "closed-before-deregistered", a, b, a, b if not certain else a, a, b,
        "measured", certain=certain,
    )  # fmt: skip


def test_a_line_two_windows_could_hold_proves_neither() -> None:
    # a line at 10 s dispatched by 11 s: the window ending at 10.2 s and the one starting at
    # 10.6 s could each hold it
    windows = [_window(0, 10.2), _window(10.6, 20)]
    assert lane_proofs(windows, [T0 + seconds_us(10)], 0, seconds_us(1), T0 + seconds_us(99)) == []
    one = lane_proofs(windows, [T0 + seconds_us(12)], 0, seconds_us(1), T0 + seconds_us(99))
    assert one == [(T0 + seconds_us(13), T0 + seconds_us(12))]


def test_lines_past_the_end_of_the_data_prove_nothing() -> None:
    # the access log runs on past the newest look of the Service's lanes: nothing is known of
    # the windows there
    windows = [_window(0, 20)]
    lines = [T0 + seconds_us(15)]
    assert lane_proofs(windows, lines, 0, seconds_us(1), T0 + seconds_us(14)) == []
    assert lane_proofs(windows, lines, 0, seconds_us(1), T0 + seconds_us(16)) != []


def test_an_undecided_reading_keeps_the_window_as_the_samples_left_it() -> None:
    # a proven window that still names other classes keeps its uncertain first reading; a
    # decided one is taken
    plain = [_window(0, 10), _window(20, 30)]
    proven = [
        replace(plain[0], certain=True, also=("registered-before-forwarding",)),
        replace(plain[1], certain=True),
    ]
    assert decided(plain, proven) == [plain[0], proven[1]]
