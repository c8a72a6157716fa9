"""The lab's accounting of transitions (recorder/lab/ledger.py), on literal histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from gapwatch.recorder.lab.fakes.fakestore import Change, FakeStore
from gapwatch.recorder.lab.ledger import (
    count_k8s,
    count_states,
    expected_k8s,
    probe_rows,
    relisted_deletions,
)
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.resources import to_observation
from gapwatch.recorder.writer import EventWriter, no_derive
from tests.store.test_writer_guard import T0
from tests.store.test_writer_guard import look as replica_look


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


def _store(engine: Engine, changes: list[Change]) -> None:
    """The changes as a watch records them, through the real writer."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        to_observation(cluster="lab", kind="Pod", op=c.type, obj=c.obj, observed_at=at)
        for c in changes
    ]
    EventWriter(engine, derive=no_derive).write(rows)


def test_a_relisted_deletion_the_watch_recorded_first_is_not_lost(engine: Engine) -> None:
    """The apiserver-restart fault reads the stored checkpoint (the gap's start) while a replica
    may still hold later events of the stream, read from the watch and not yet committed. Its
    real DELETED (own resourceVersion, inside the gap) is then stored, and the relist, finding it
    the object's last row, makes up no second one: the deletion is recorded, in the watch's form
    and not the relist's. Session 23's 3 'lost' Pod DELETEs (rv 1177-1205, just before the
    compaction to 1219) fit this; a deletion recorded in neither form is still lost."""
    fake = FakeStore()
    fake.create("Pod", pod("a", "Running"))
    terminating = fake.update("Pod", pod("a", "Succeeded"))  # the last version committed
    gone = fake.delete("Pod", "ns", "a")  # read from the watch, committed after the fault read
    relist = fake.create("Pod", pod("b", "Pending"))
    gaps = {"Pod": [(terminating, relist)]}
    expected = expected_k8s(fake.log, gaps)
    assert ("Pod", "ns", "a", str(terminating), "DELETED") in expected  # the relist's form
    relisted = relisted_deletions(fake.log, gaps)
    assert relisted == {("Pod", "ns", "a", str(terminating), "DELETED"): relist}
    _store(engine, [c for c in fake.log if c.rv <= gone])  # the watch's real DELETED
    result = count_k8s(engine, "lab", expected, relisted)
    assert result.lost == ["Pod/ns/b/" + str(relist)]  # b: created after, not recorded here
    assert count_k8s(engine, "lab", expected).lost == [
        f"Pod/ns/a/{terminating}/DELETED",
        f"Pod/ns/b/{relist}",
    ]  # the rule before: the watch's form did not count


def test_a_relisted_deletion_recorded_in_neither_form_is_lost(engine: Engine) -> None:
    fake = FakeStore()
    fake.create("Pod", pod("a", "Running"))
    terminating = fake.update("Pod", pod("a", "Succeeded"))
    fake.delete("Pod", "ns", "a")
    relist = fake.create("Pod", pod("b", "Pending"))
    gaps = {"Pod": [(terminating, relist)]}
    _store(engine, [c for c in fake.log if c.rv <= terminating or c.rv == relist])
    result = count_k8s(
        engine, "lab", expected_k8s(fake.log, gaps), relisted_deletions(fake.log, gaps)
    )
    assert result.lost == [f"Pod/ns/a/{terminating}/DELETED"]


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


def test_a_state_that_ended_before_the_first_look_is_unobservable_one_after_it_not() -> None:
    """Session 24's traced soak (`lb: expected 24, lost 2`): the LB poller's first answer came
    after the two states that ended first (82.2 and 90.1 s). Its first look stores what it
    finds; what ended before it no sampler saw. A state that lasted past it must be stored."""
    changes = [
        (0.0, "t1", "unhealthy"),
        (0.0, "t2", "healthy"),
        (0.0, "t3", "healthy"),
        (82.2, "t1", "healthy"),
        (90.1, "t2", "unhealthy"),
        (312.2, "t1", "unhealthy"),
    ]
    first = [(95.0, "t1", "healthy", True), (95.0, "t2", "unhealthy", True)]
    rows = [*first, (95.0, "t3", "healthy", True), (313.0, "t1", "unhealthy", True)]
    kwargs: dict[str, Any] = {"bound_s": 5.0, "slack_s": 4.5, "end_s": 3600.0}
    before = count_states(changes, rows, **kwargs)
    assert before.lost == ["t1 -> unhealthy at 0.0 s", "t2 -> healthy at 0.0 s"]
    result = count_states(changes, rows, first_look_s=95.0, **kwargs)
    assert result.lost == [] and result.duplicated == [] and result.expected == 4
    assert result.unobservable == [
        "t1 -> unhealthy from 0.0 s to 82.2 s, before the first look at 95.0 s",
        "t2 -> healthy from 0.0 s to 90.1 s, before the first look at 95.0 s",
    ]
    # a state that lasted past the first look and was not stored is lost
    missing = [r for r in rows if r[1] != "t3"]
    result = count_states(changes, missing, first_look_s=95.0, **kwargs)
    assert result.lost == ["t3 -> healthy at 0.0 s"]
    # and so is a later one
    result = count_states(changes, rows[:-1], first_look_s=95.0, **kwargs)
    assert result.lost == ["t1 -> unhealthy at 312.2 s"]


def test_a_lost_state_names_what_the_store_holds_around_it() -> None:
    """A lost transition says which rows of its key lie before, inside and after it (state,
    transition or heartbeat, the look before each), so a soak's `lost 2` can be placed."""
    changes = [(0.0, "t1", "healthy"), (90.0, "t1", "unhealthy"), (150.0, "t1", "healthy")]
    rows = [
        (5.0, "t1", "healthy", True),
        (65.0, "t1", "healthy", False, 64.0),  # a heartbeat
        (151.0, "t1", "healthy", True, 149.5),  # the change back, bounded by the look before
    ]
    result = count_states(changes, rows, bound_s=5.0, slack_s=1.0, end_s=300.0)
    assert result.lost == ["t1 -> unhealthy at 90.0 s"]
    assert result.around == {
        "t1 -> unhealthy at 90.0 s": "stored around it: 65.0 s healthy (heartbeat, previous look "
        "64.0 s); 151.0 s healthy (transition, previous look 149.5 s)"
    }


#: a kube-proxy health state as the ledger reads one (probe_rows: status, localEndpoints)
UP, DOWN = (200, 1), (503, 0)


def stalled_heartbeat_rows(change_back: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Session 25's soaks (`(200, 1) again`) as the store held them: replica A stores the 503
    at 72.6 s (its look of the 200 before it began at 64.9 s); replica B's look began while
    the fake still answered 200 and ended at 73.5 s, after A's change (its event loop stalled
    under load), and was due for a heartbeat: a 200 row after the 503 by `observed_at`.
    `change_back` is the row after it."""
    return [
        (14.4, "n1", UP, False),  # a first look
        (72.6, "n1", DOWN, True, 64.9),  # A: the change
        (73.5, "n1", UP, False, 63.1),  # B: a heartbeat of a look that began before it
        change_back,
    ]


def test_a_change_back_after_a_heartbeat_stamped_late_is_no_duplicate() -> None:
    """A's change back to 200 at 86.0 s, whose last look of the 503 began at 84.0 s (after B's
    heartbeat was observed), is the one change back: the rule before counted it as the
    heartbeat's 200 stored again."""
    changes = [(0.0, "n1", UP), (70.0, "n1", DOWN), (85.0, "n1", UP)]
    rows = stalled_heartbeat_rows((86.0, "n1", UP, True, 84.0))
    result = count_states(changes, rows, bound_s=2.0, slack_s=1.0, end_s=120.0, initial={})
    assert result.duplicated == [] and result.lost == []


def test_a_change_stored_twice_around_a_heartbeat_stamped_late_is_a_duplicate() -> None:
    """B's own 503 at 74.0 s, whose last look of the 200 began at 66.0 s, before A's 503 was
    observed: both looks saw the same change, stored twice. The rule before let it pass (the
    row before it, B's heartbeat, was a 200)."""
    changes = [(0.0, "n1", UP), (70.0, "n1", DOWN)]
    rows = stalled_heartbeat_rows((74.0, "n1", DOWN, True, 66.0))
    result = count_states(changes, rows, bound_s=2.0, slack_s=1.0, end_s=120.0, initial={})
    assert result.duplicated == ["n1 -> (503, 0) again at 74.0 s"]
    assert result.around["n1 -> (503, 0) again at 74.0 s"] == (
        "stored first: 72.6 s (503, 0) (transition, previous look 64.9 s); between: 73.5 s "
        "(200, 1) (heartbeat, previous look 63.1 s); again: 74.0 s (503, 0) (transition, "
        "previous look 66.0 s)"
    )


def test_a_change_after_a_flap_no_replica_stored_is_no_duplicate() -> None:
    """A change whose replica saw the old state after the same change was stored before: the
    state went and came back (run 1 of session 25's repeat: the 503 of 72.6 s ended, the one
    200 stored after it a heartbeat, and the next 503 came at 676.9 s). Not stored twice."""
    rows = [
        (14.4, "n1", UP, False),
        (72.6, "n1", DOWN, True, 64.9),
        (93.5, "n1", UP, False, 63.1),  # the way back, a heartbeat only
        (676.9, "n1", DOWN, True, 669.9),
    ]
    changes = [(0.0, "n1", UP), (70.0, "n1", DOWN), (90.0, "n1", UP), (675.0, "n1", DOWN)]
    result = count_states(changes, rows, bound_s=2.0, slack_s=1.0, end_s=700.0, initial={})
    assert result.duplicated == [] and result.lost == []


def test_a_duplicate_written_into_a_store_is_reported_with_the_row_it_repeats(
    engine: Engine,
) -> None:
    """The same health change written by two replicas (both observations, each its own
    dedupe key) into a real store, read back as the soak reads it (probe_rows): reported."""

    def look(at: float, status: int, why: str, since: float | None) -> Observation:
        body = {"localEndpoints": 1 if status == 200 else 0}
        return replace(
            replica_look(at, "any", "any"),  # its time, cluster "c", node n1
            payload={"status": status, "body": body, "error": None, "look": why},
            previous_observed_at=None if since is None else T0 + timedelta(seconds=since),
        )

    EventWriter(engine, derive=no_derive).write(
        [
            look(14.4, 200, "first", None),
            look(72.6, 503, "change", 64.9),
            look(73.5, 200, "heartbeat", 63.1),
            look(74.0, 503, "change", 66.0),  # the other replica: the same change
        ]
    )
    rows = probe_rows(engine, "c", T0)
    changes = [(0.0, "n1", UP), (70.0, "n1", DOWN)]
    result = count_states(changes, rows, bound_s=2.0, slack_s=1.0, end_s=120.0, initial={})
    assert result.duplicated == ["n1 -> (503, 0) again at 74.0 s"]
    assert result.around[result.duplicated[0]].startswith("stored first: 72.6 s (503, 0)")


def test_a_heartbeat_before_the_one_transition_to_its_state_is_named_as_such() -> None:
    """Session 26's CI (tests/lab/test_lab_start.py, the LB lane): B stored the target's first
    state at 0.5 s; A's first look saw it healthy, its ADDED was dropped (B's came first), and
    before A learnt so it looked again, saw only the target's node become known and stored an
    `OBSERVED` of healthy stamped when that look began (1.0 s, its previous look 0.5 s); B's
    MODIFIED to healthy at 1.7 s, its previous look 0.5 s, is the change's one transition. The
    ledger called it `healthy again at 1.7 s`, a change stored twice; it is stored once, and
    the heartbeat claimed the state before any transition stored it (the samplers now guard
    such a heartbeat: tests/lb/test_dropped_first_look.py): a defect still, named as what it
    is. A transition to the same state after them, its look overlapping B's, is stored twice."""
    changes = [(0.0, "t", "initial"), (0.6, "t", "healthy")]
    rows = [
        (0.5, "t", "initial", True, None),  # B: the first look
        (1.0, "t", "healthy", False, 0.5),  # A: a heartbeat, its own transition dropped
        (1.7, "t", "healthy", True, 0.5),  # B: the change
    ]
    early = "t -> healthy claimed by a heartbeat before its one transition at 1.7 s"
    result = count_states(changes, rows, bound_s=0.3, slack_s=0.2, end_s=5.0, initial={})
    assert result.duplicated == [early] and result.lost == []
    assert result.around[early] == (
        "stored first: 1.0 s healthy (heartbeat, previous look 0.5 s); between: nothing; "
        "again: 1.7 s healthy (transition, previous look 0.5 s)"
    )
    again = [*rows, (1.9, "t", "healthy", True, 1.2)]  # A again, its look overlapping B's
    result = count_states(changes, again, bound_s=0.3, slack_s=0.2, end_s=5.0, initial={})
    assert result.duplicated == [early, "t -> healthy again at 1.9 s"]
