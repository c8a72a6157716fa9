"""The LB's failed requests as gap instants (replay.accessed): a failed access-log line tied to a
node proves the gap held at its dispatch, so the one window it falls in is certain and its sure
range holds the line.

The cluster is tests/replay/test_logclock.py's (test_membership's rollout with n1's InternalIP):
n1's only pod stops serving at 40 s and the CCM deregisters n1 at 43 s; the LB lane is CloudTrail
membership alone (endpoint-driven: R possible, never definite), so the samples leave one
uncertain window on n1 from 39.5 to 49 s (no kube-proxy metrics: kube-proxy's own watch may
have delivered the slice seen at 40 s up to the 0.5 s watch skew before the recorder's). The
lines are ALB entries in the field order of AWS's "Access log entries" guide, parsed by the
real importer.
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
from gapwatch.replay.signals import HI
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
    assert (w.node, w.certain, _bounds(w)) == ("n1", False, (39.5, 49.0, 39.5, 49.0))


def test_a_failed_request_makes_its_window_certain() -> None:
    # a 502 whose request came in at 41 s: dispatched by 42 s (access_dispatch_s 1 s), so the
    # gap began by 42 s and lasted past 41 s; the outer bounds stay the samples'
    state, (w,) = _run(alb_502(41))
    assert w.certain
    assert _bounds(w) == (39.5, 42.0, 41.0, 49.0)
    assert w.cls == "closed-before-deregistered"
    (n,) = counted(state, [w], SETTINGS)
    assert n.failed_requests == 1 and n.certain


def test_several_failed_requests_widen_the_sure_range() -> None:
    _state, (w,) = _run(alb_502(41), alb_502(44), alb_502(47))
    assert w.certain
    assert _bounds(w) == (39.5, 42.0, 47.0, 49.0)
    assert w.duration_min_s == 5.0


def test_a_line_outside_every_window_proves_nothing() -> None:
    # at 60 s the node is deregistered: no window there (a failure that was no race, or a
    # clock the lines cannot estimate), and the window at 40-49 s gains nothing from it
    _state, (w,) = _run(alb_502(60))
    assert (w.certain, _bounds(w)) == (False, (39.5, 49.0, 39.5, 49.0))


def test_a_log_clock_ahead_is_read_on_the_estimated_offset() -> None:
    # seven failures at 41-47 s logged 15 s ahead (56-62 s): replay.logclock estimates
    # +12..+17.5 s (the window from 39.5 s), and on that clock each line's dispatch lies in
    # [t - 17.5, t + 1 - 12] s: the window holds them all, surely to 62 - 17.5 s. Without the
    # estimate (access_clock_max_s 0) they lie after it.
    lines = [alb_502(t + 15) for t in range(41, 48)]
    _state, (w,) = _run(*lines)
    assert w.certain
    assert _bounds(w) == (39.5, 45.0, 44.5, 49.0)
    state = fold(FoldState(), facts_of(_history(*lines)))
    (off,) = detect(state, settings=replace(SETTINGS, access_clock_max_s=0.0))
    assert (off.certain, _bounds(off)) == (False, (39.5, 49.0, 39.5, 49.0))


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


def test_a_proof_that_grows_rereads_its_window_and_one_that_does_not_keeps_it() -> None:
    """The per-node cache reads again only the windows a proof came to or left
    (node_cache._Holding): a later line that moves the window's proof (47 s: the gap lasted
    past it) is read as detect() reads all the lines; one outside every window (60 s) moves no
    proof and the window is kept as it was."""
    history = _history()
    first = facts_of([*history, alb_502(41)])[len(facts_of(history)) :]
    later = facts_of([*history, alb_502(41), alb_502(47)])[len(facts_of(history)) + 1 :]
    outside = facts_of([*history, alb_502(41), alb_502(47), alb_502(60)])
    outside = outside[len(facts_of(history)) + 2 :]
    state = fold(FoldState(), [*facts_of(history), *first])
    cache: node_cache.Cache = {}
    services = lb_facing(state)
    (w1,), _r, _l = compute(state, services, SETTINGS, cache=cache)
    assert _bounds(w1) == (39.5, 42.0, 41.0, 49.0)
    for batch, bounds in ((later, (39.5, 42.0, 47.0, 49.0)), (outside, (39.5, 42.0, 47.0, 49.0))):
        state = fold(state, batch)
        (stored,), _r, _l = compute(state, services, SETTINGS, cache=cache)
        (found,) = detect(state, settings=SETTINGS)
        assert _bounds(stored) == bounds
        assert replace(stored, rollout=None, failed_requests=None) == replace(
            found, rollout=None, failed_requests=None
        )


def test_the_windows_holding_a_proof_are_found_as_a_scan_finds_them() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        windows = []
        for _k in range(rng.randint(0, 8)):
            a = rng.randint(0, 100)
            windows.append(_window(a, a + rng.randint(0, 30)))
        holding = node_cache._Holding(windows)
        for _p in range(10):
            x = rng.randint(-5, 135)
            proof = (T0 + x * 1_000_000, T0 + (x + rng.randint(-3, 10)) * 1_000_000)
            scan = [
                i
                for i, w in enumerate(windows)
                if all(w.start_earliest_us <= t <= w.end_latest_us for t in proof)
            ]
            assert sorted(holding.of(proof)) == scan


def test_a_node_reads_again_only_the_windows_whose_proofs_moved() -> None:
    """node_cache._proven: a window keeps the reading it had while it holds the same proofs and
    ends before the instant the node was found again from; else it is read again (`read`: here
    a stand-in that marks what it was asked to read)."""
    a, b = _window(10, 20), _window(40, 50)
    calls: list[list[tuple[int, int]]] = []

    def read(proofs: list[tuple[int, int]]) -> list[Window]:
        calls.append(proofs)
        return [
            replace(w, certain=True)
            for w in (a, b)
            if any(w.start_earliest_us <= p[0] <= w.end_latest_us for p in proofs)
        ]

    pa, pa2, pb = (T0 + 12_000_000,) * 2, (T0 + 15_000_000,) * 2, (T0 + 45_000_000,) * 2
    was = node_cache.NodeWindows(
        ("k",), [replace(a, certain=True), b], False, plain=[a, b], proofs=[pa]
    )
    # kept whole (until past everything): a's proof moved, b got one: both read again
    got = node_cache._proven(was, [pa2, pb], was, HI, read)
    assert [w.certain for w in got] == [True, True] and calls == [[pa2, pb]]
    # the same proofs: nothing is read, each window keeps its reading
    calls.clear()
    assert node_cache._proven(was, [pa], was, HI, read) == was.windows
    assert calls == []
    # found again from 15 s: a ends after that instant, so it is read again with its proof
    fresh = node_cache.NodeWindows(("k",), [a, b], False, plain=[a, b])
    got = node_cache._proven(fresh, [pa], was, T0 + 15_000_000, read)
    assert calls == [[pa]] and got[0].certain and not got[1].certain
