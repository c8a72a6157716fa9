"""What the recorder could have observed, counted (recorder/lab/ledger.py): an LB state no look
was answered with while it held is unobservable, whatever kept the looks away (`served`, moto's
proxy's answers: fakes/fakeelb.py), and a kube-proxy state that ended before the prober's first
answered health look is too (`first_look_s`, the prober's `kube-proxy first look` log line).
Literal histories."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.lab.ledger import count_states

KWARGS: dict[str, Any] = {"bound_s": 5.0, "slack_s": 1.0, "end_s": 3600.0}
#: session 25's traced soak: ip-10-0-1-13's target unhealthy 312.2-332.2 s (2 s wall at 10x),
#: no stored look of either replica inside it
CHANGES = [(0.0, "t1", "healthy"), (312.2, "t1", "unhealthy"), (332.2, "t1", "healthy")]
ROWS = [(5.0, "t1", "healthy", True), (298.6, "t1", "healthy", False, 216.2)]
#: what the stalled poller stored next: nothing changed for it, a heartbeat when due
LATER = [(358.6, "t1", "healthy", False, 357.6)]


def answers(*times: float, state: str = "healthy") -> list[tuple[float, dict[str, str]]]:
    return [(t, {"t1": state}) for t in times]


def test_a_state_no_look_was_answered_with_is_unobservable_not_lost() -> None:
    """The poller stalled (its answers at 298.6 and 334.0 s, 16-38 s simulated apart in that
    soak): the 20 s `unhealthy` came and went between two answers."""
    served = answers(5.0, 100.0, 298.6) + answers(334.0, 400.0)
    before = count_states(CHANGES, ROWS + LATER, **KWARGS)
    assert before.lost == ["t1 -> unhealthy at 312.2 s"]
    result = count_states(CHANGES, ROWS + LATER, served=served, **KWARGS)
    assert result.lost == [] and result.expected == 2
    assert result.unobservable == [
        "t1 -> unhealthy at 312.2-332.2 s: no look was answered while it held (the last answer "
        "before at 298.6 s, 0 inside, the first after at 334.0 s)"
    ]


def test_the_state_after_an_unobservable_one_continues_the_state_before_it() -> None:
    """For the poller nothing changed: the `healthy` after the missed `unhealthy` is the one
    it stored at 5.0 s, not a transition it must store again (it lasts 17.8 s, no heartbeat
    falls inside)."""
    changes = [*CHANGES, (350.0, "t1", "unhealthy")]
    rows = [*ROWS, (351.0, "t1", "unhealthy", True, 349.8)]
    served = answers(5.0, 298.6, 334.0, 349.8) + answers(351.0, state="unhealthy")
    result = count_states(changes, rows, served=served, **KWARGS)
    assert result.lost == [] and result.expected == 3, result


def test_a_state_a_look_was_answered_with_and_not_stored_is_lost() -> None:
    served = answers(5.0, 298.6) + answers(320.0, state="unhealthy") + answers(334.0)
    result = count_states(CHANGES, ROWS + LATER, served=served, **KWARGS)
    assert result.lost == ["t1 -> unhealthy at 312.2 s"] and result.unobservable == []
    # answered inside, with the old state (the fake not switched yet): no chance either
    late = answers(5.0, 298.6, 313.0) + answers(334.0)
    assert count_states(CHANGES, ROWS + LATER, served=late, **KWARGS).lost == []


def test_a_target_no_answer_lists_is_absent() -> None:
    changes = [(0.0, "t1", "healthy"), (50.0, "t1", "absent"), (80.0, "t1", "healthy")]
    rows = [(5.0, "t1", "healthy", True), (81.0, "t1", "healthy", True, 40.0)]
    served = [*answers(5.0, 40.0), (60.0, {"t2": "healthy"}), *answers(81.0)]
    result = count_states(changes, rows, served=served, **KWARGS)
    assert result.lost == ["t1 -> absent at 50.0 s"]  # answered without it at 60 s: seen


def test_kube_proxy_states_ended_before_the_probers_first_look_are_unobservable() -> None:
    """The fakes answer 503 from before the first instant (the ledger's `initial`); a replica's
    prober whose first health look answered at 21.3 s (traced, load 5-7) saw none of what
    ended before it."""
    up, down = (200, 1), (503, 0)
    changes = [(0.0, "n1", down), (12.0, "n1", up), (18.0, "n1", down), (40.0, "n1", up)]
    rows = [(21.4, "n1", down, False), (40.9, "n1", up, True, 39.8)]
    before = count_states(changes, rows, initial={"n1": down}, **KWARGS)
    assert before.lost == ["n1 -> (503, 0) at the start", "n1 -> (200, 1) at 12.0 s"]
    result = count_states(changes, rows, initial={"n1": down}, first_look_s=21.3, **KWARGS)
    assert result.lost == [] and result.expected == 2
    assert result.unobservable == [
        "n1 -> (503, 0) from the start to 12.0 s, before the first look at 21.3 s",
        "n1 -> (200, 1) from 12.0 s to 18.0 s, before the first look at 21.3 s",
    ]
