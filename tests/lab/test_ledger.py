"""The lab's accounting of transitions (recorder/lab/ledger.py), on literal histories."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.lab.fakes.fakestore import FakeStore
from gapwatch.recorder.lab.ledger import count_states, expected_k8s


def pod(name: str, phase: str, heartbeat: str = "t0") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": heartbeat}],
        },
    }


def test_every_change_is_expected_once() -> None:
    fake = FakeStore()
    a = fake.create("Pod", pod("a", "Pending"))
    b = fake.update("Pod", pod("a", "Running"))
    c = fake.delete("Pod", "ns", "a")
    assert expected_k8s(fake.log) == {
        ("Pod", "ns", "a", str(a), ""),
        ("Pod", "ns", "a", str(b), ""),
        ("Pod", "ns", "a", str(c), "DELETED"),
    }


def test_a_relist_gap_expects_only_each_objects_last_state() -> None:
    fake = FakeStore()
    first = fake.create("Pod", pod("a", "Pending"))
    fake.update("Pod", pod("a", "Running"))  # inside the gap: collapsed
    last = fake.update("Pod", pod("a", "Succeeded"))
    fake.create("Pod", pod("b", "Pending"))
    gone = fake.delete("Pod", "ns", "b")  # created and deleted inside the gap: never seen
    expected = expected_k8s(fake.log, {"Pod": [(first, gone)]})
    assert expected == {("Pod", "ns", "a", str(first), ""), ("Pod", "ns", "a", str(last), "")}


def test_a_state_held_shorter_than_a_look_may_be_missed_a_longer_one_not() -> None:
    changes = [(0.0, "n1", "ok"), (10.0, "n1", "down"), (10.5, "n1", "ok"), (20.0, "n1", "down")]
    rows = [(0.2, "n1", "ok", True), (20.4, "n1", "down", True)]
    result = count_states(changes, rows, bound_s=1.0, slack_s=0.5, end_s=30.0)
    assert result.expected == 2  # the 0.5 s "down" is shorter than a look: "ok" throughout
    assert result.lost == []
    result = count_states(changes, rows[:1], bound_s=1.0, slack_s=0.5, end_s=30.0)
    assert result.lost == ["n1 -> down at 20.0 s"]


def test_a_change_stored_twice_is_a_duplicate_however_close_the_two_are() -> None:
    """The writer's compare-and-set stores a change once whichever replica commits it first
    (recorder/writer.py, Guard): the other replica's row 0.3 s later is a duplicate too."""
    changes = [(0.0, "n1", "ok"), (10.0, "n1", "down")]
    rows = [
        (0.2, "n1", "ok", True),
        (10.3, "n1", "down", True),
        (10.6, "n1", "down", True, 9.9),  # the other replica, within one look
        (15.0, "n1", "down", False),  # a heartbeat: not a transition
        (25.0, "n1", "down", True),  # the same change again, long after
    ]
    result = count_states(changes, rows, bound_s=1.0, slack_s=0.5, end_s=30.0)
    assert result.duplicated == ["n1 -> down again at 10.6 s", "n1 -> down again at 25.0 s"]
    assert result.lost == []


def test_a_state_that_began_and_ended_while_nobody_looked_is_unobservable_not_lost() -> None:
    changes = [(0.0, "n1", "ok"), (12.0, "n1", "down"), (16.0, "n1", "ok"), (30.0, "n1", "down")]
    # a restarted prober's first look at 20.5 s: "ok" as stored before, a `resume`
    rows = [(0.2, "n1", "ok", True), (20.5, "n1", "ok", False), (30.4, "n1", "down", True)]
    # both replicas dead from 10 s to 20 s: the 4 s "down" inside could not be seen
    result = count_states(changes, rows, bound_s=1.0, slack_s=0.5, end_s=40.0, blind=[(10, 20)])
    assert result.unobservable == ["n1 -> down at 12.0-16.0 s"]
    assert result.lost == [] and result.expected == 3  # ok, ok again (the resume), down
    # without the blind stretch the same store lost it
    result = count_states(changes, rows, bound_s=1.0, slack_s=0.5, end_s=40.0)
    assert result.lost == ["n1 -> down at 12.0 s"] and result.unobservable == []
    # a state that outlasts the blind stretch must still be seen after it
    late = [(0.0, "n1", "ok"), (12.0, "n1", "down")]
    result = count_states(late, rows[:1], bound_s=1.0, slack_s=0.5, end_s=40.0, blind=[(10, 20)])
    assert result.lost == ["n1 -> down at 12.0 s"]


def test_the_last_state_may_be_seen_after_the_scripts_end() -> None:
    changes = [(0.0, "n1", "ok"), (28.0, "n1", "down")]
    rows = [(0.2, "n1", "ok", True), (33.0, "n1", "down", True)]  # a slow look, after the end
    result = count_states(changes, rows, bound_s=1.0, slack_s=0.5, end_s=30.0)
    assert result.lost == [] and result.expected == 2


def test_a_first_change_to_the_fakes_initial_state_was_seen_by_a_look_before_it() -> None:
    """A fake kube-proxy answers 503 from its start; the script's first change for the node sets
    503 again at 1.0 s. A prober look at 0.2 s stored the 503 and nothing changed after, so no
    row lies after 1.0 s minus the slack: the state was recorded, not lost (a Huawei lab run
    counted it lost). An initial state the script changes away from is not expected."""
    changes = [(1.0, "n1", (503, 0)), (20.0, "n1", (200, 1))]
    rows = [(0.2, "n1", (503, 0), True), (20.3, "n1", (200, 1), True)]
    without = count_states(changes, rows, bound_s=0.5, slack_s=0.2, end_s=30.0)
    assert without.lost == ["n1 -> (503, 0) at 1.0 s"]
    initial = {"n1": (503, 0)}
    result = count_states(changes, rows, bound_s=0.5, slack_s=0.2, end_s=30.0, initial=initial)
    assert result.lost == [] and result.expected == 2
    # nothing stored of it at all: still lost, named from the start
    result = count_states(changes, rows[1:], bound_s=0.5, slack_s=0.2, end_s=30.0, initial=initial)
    assert result.lost == ["n1 -> (503, 0) at the start"]
    # the fake started healthy and the script's first change is the 503: the 200 before it is
    # not expected (the recorders may have started looking after 1.0 s)
    healthy = {"n1": (200, 1)}
    looked = [(0.2, "n1", (200, 1), True), (1.1, "n1", (503, 0), True), rows[1]]
    result = count_states(changes, looked, bound_s=0.5, slack_s=0.2, end_s=30.0, initial=healthy)
    assert result.lost == [] and result.expected == 2
    result = count_states(changes, rows[1:], bound_s=0.5, slack_s=0.2, end_s=30.0, initial=healthy)
    assert result.lost == ["n1 -> (503, 0) at 1.0 s"]
