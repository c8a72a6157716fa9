"""Classes the samples cannot decide (docs/semantics.md, "Undecided classes"): a window names
the other reading (`Window.also`) where the LB's reaction to an endpoints excursion fell
between two polls, and none where a poll saw it. Literal observations (tests/replay/builders
and the endpoint-driven history of test_unseen_order)."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.cli import window_dict
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, Sample, fold, lb_facing, sorted_lane
from gapwatch.replay.lanes import lanes
from gapwatch.replay.model import Window
from gapwatch.replay.projection_rows import window_row
from gapwatch.replay.scope import WINDOW_COLUMNS, window_from_row
from gapwatch.replay.undecided import health_check_drop_floor, unseen_lb_excursion
from tests.replay.builders import eps, facts_of, health, node, pod, service, windows_of
from tests.replay.test_unseen_order import _history, _is_drain, _serving, _target, _us

RBF, CBD = "registered-before-forwarding", "closed-before-deregistered"


def _s(t: float, value: str) -> Sample:
    return Sample(int(t * 1e6), None, value, 0)


EXCURSION = [_s(0, "ready"), _s(10, "serving-terminating"), _s(12, "ready")]


def test_an_excursion_with_no_poll_inside_is_unseen() -> None:
    assert unseen_lb_excursion(
        EXCURSION, [_s(5, "healthy"), _s(15, "healthy")], int(9e6), int(14e6), 0
    )


def test_a_poll_inside_the_excursion_saw_the_lb() -> None:
    assert not unseen_lb_excursion(
        EXCURSION, [_s(5, "healthy"), _s(11, "healthy")], int(9e6), int(14e6), 0
    )


def test_a_window_after_the_next_look_is_not_the_excursions() -> None:
    # the poll at 15 s saw the LB after the return: a window from 20 s is not its reaction
    assert not unseen_lb_excursion(EXCURSION, [_s(15, "healthy")], int(20e6), int(30e6), int(0.5e6))
    assert unseen_lb_excursion(EXCURSION, [_s(15, "healthy")], int(13e6), int(30e6), int(0.5e6))
    # a loss after the window is not its cause (up to the watch skew: seen late)
    assert not unseen_lb_excursion(EXCURSION, [], int(2e6), int(9e6), int(0.5e6))
    assert unseen_lb_excursion(EXCURSION, [], int(2e6), int(9.6e6), int(0.5e6))


def test_endpoints_that_never_come_back_are_no_excursion() -> None:
    assert not unseen_lb_excursion(EXCURSION[:2], [], 0, int(30e6), 0)


TWO = [*EXCURSION, _s(20, "serving-terminating"), _s(21, "serving-terminating"), _s(40, "ready")]


def test_the_last_loss_before_the_window_ends_is_the_one_read() -> None:
    # losses at 10 s (back at 12 s) and 20 s (back at 40 s): a window ending before 20 s is
    # read against the first; one ending after it against the second, seen by the poll at 30 s
    polls = [_s(5, "healthy"), _s(30, "healthy")]
    assert unseen_lb_excursion(TWO, polls, int(9e6), int(14e6), 0)
    assert not unseen_lb_excursion(TWO, polls, int(19e6), int(25e6), 0)
    # the loss at 20 s seen up to 0.5 s late may be before a window's end at 19.6 s (read,
    # and seen by the poll at 30 s); up to 0.3 s late it is not (the first one is read)
    assert not unseen_lb_excursion(TWO, polls, int(9e6), int(19.6e6), int(0.5e6))
    assert unseen_lb_excursion(TWO, polls, int(9e6), int(19.6e6), int(0.3e6))
    # the times a caller found once answer the same
    for end in (14e6, 19.6e6, 25e6, 45e6):
        given = unseen_lb_excursion(
            TWO, polls, int(9e6), int(end), int(0.5e6),
            eps_at=[e.at_us for e in TWO], polls_at=[p.at_us for p in polls],
        )  # fmt: skip
        assert given == unseen_lb_excursion(TWO, polls, int(9e6), int(end), int(0.5e6))


def _late(observations: list[Observation]) -> Window:
    (window,) = [
        w for w in detect(fold(FoldState(), facts_of(observations))) if w.start_us > _us(390)
    ]
    return window


def test_an_unordered_reaction_names_both_readings() -> None:
    # kube-proxy closes and opens between 403 and 406 s around a replacement pod; no poll
    # after 325 s: the LB may have dropped and re-added the node, or kept routing
    measured = _late(_history(8.0))  # the LB's measured drop lag (8 s) makes cbd likelier
    assert not measured.certain
    assert (measured.cls, measured.also) == (CBD, (RBF,))
    unmeasured = _late([o for o in _history(8.0) if not _is_drain(o)])
    assert (unmeasured.cls, unmeasured.also) == (RBF, (CBD,))


def test_a_seen_drain_decides_the_lb_side() -> None:
    # the same change, but a poll at 403.5 s saw the node draining inside the window: the
    # LB's reaction is seen (no unordered reaction to name); what is left is the gap before
    # that look, kube-proxy's close while the LB still routed
    obs = [*_history(8.0), _target(403.5, 400, "draining"), _target(407, 403.5, "healthy")]
    state = fold(FoldState(), facts_of(sorted(obs, key=lambda o: o.observed_at)))
    window = _late(sorted(obs, key=lambda o: o.observed_at))
    (svc,) = lb_facing(state)
    lanes_ = lanes(state, svc, "n1", DEFAULTS, 0)
    polls = sorted_lane(state.probes["target"][(svc, "n1")])
    assert not unseen_lb_excursion(
        lanes_.eps, polls, window.start_earliest_us, window.end_latest_us, 500_000
    )
    assert (window.cls, window.also) == (RBF, (CBD,))


def test_a_drain_seen_inside_leaves_the_gap_before_it_its_own_cause() -> None:
    # The pod dies at 311 s, kube-proxy answers 503 by 313 s, a poll sees the node draining at
    # 315 s; the replacement is ready at 317 s, a poll sees the node healthy at 320 s and
    # kube-proxy answers 200 by 319.5 s. After the drain the LB may have taken the node back
    # before kube-proxy opened (the class); before it, kube-proxy had closed while the LB
    # still routed (named too).
    obs = [
        *_serving(),
        pod(311, "p1", "n1", "gone"),
        eps(311, []),
        health(313, 312, "n1", 0),
        _target(315, 310, "draining"),
        pod(317, "p2", "n1", "ready", revision="bbb"),
        eps(317, [("p2", "n1", "ready")]),
        health(319.5, 318.5, "n1", 1),
        _target(320, 315, "healthy"),
        _target(325, 320, "healthy"),
    ]
    (window,) = windows_of(obs)
    assert not window.certain
    assert (window.cls, window.also) == (RBF, (CBD,))


def test_after_a_seen_drain_the_lb_opened_the_gap_not_the_old_pod() -> None:
    # kube-proxy 1.29 (PTE): the old pod terminates at 300 s and is gone at 302 s (endpoints
    # empty); a poll sees the node draining at 305 s; the replacement is ready at 307 s
    # (endpoints 307.8 s), kube-proxy answers 200 by 310 s, a poll sees the node healthy at
    # 315 s. The piece after the drain opened with the LB taking the node back: the old pod's
    # death is the cause of the gap before the drain (named), not of this one.
    obs = [
        service(0),
        node(0, "n1"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        _target(2, None, "healthy"),
        health(2, None, "n1", 1),
        pod(300, "p1", "n1", "terminating", deleted_at=300),
        eps(300, [("p1", "n1", "terminating")]),
        pod(302, "p1", "n1", "gone"),
        eps(302, []),
        _target(305, 300, "draining"),
        health(305, 300, "n1", 0),
        pod(307, "p2", "n1", "ready", revision="bbb"),
        eps(307.8, [("p2", "n1", "ready")]),
        health(310, 305, "n1", 1),
        _target(315, 305, "healthy"),
    ]
    (window,) = windows_of(obs)
    assert not window.certain
    assert (window.cls, window.also) == (RBF, ("pod-gone-before-deregistered",))


def test_a_node_driven_lb_cannot_drop_a_node_faster_than_its_health_check() -> None:
    assert health_check_drop_floor(DEFAULTS) == 20_000_000  # 3 failed checks 10 s apart
    fast = replace(DEFAULTS, hc_interval_s=0.5, hc_unhealthy_threshold=2)
    assert health_check_drop_floor(fast) == 500_000
    assert health_check_drop_floor(replace(DEFAULTS, hc_unhealthy_threshold=1)) == 0


def test_serving_history_has_no_late_window() -> None:
    assert not [w for w in detect(fold(FoldState(), facts_of(_serving()))) if w.start_us > _us(390)]


def test_the_stored_window_keeps_what_else_is_possible() -> None:
    # the projection's row and back (replay_windows.also, comma-separated)
    window = _late(_history(8.0))
    row = window_row(window)
    assert row["also"] == RBF
    back = window_from_row(tuple(row[c.name] for c in WINDOW_COLUMNS))
    assert back == window
    decided = replace(window, also=())
    assert window_row(decided)["also"] == ""
    assert window_from_row(tuple(window_row(decided)[c.name] for c in WINDOW_COLUMNS)) == decided
    assert window_dict(window)["also"] == [RBF]
