"""Two replicas restarted together each store the change they see from the same stored state:
the same `previous_observed_at` names the one change, however far apart their looks ended (the
lab's `sigkill-all` seed 3 on a loaded machine: 8 s simulated apart). Counted as stored by both
replicas, not duplicated (recorder/lab/ledger.py). A change stored again from another state is
still a duplicate. Literal rows."""

from __future__ import annotations

from gapwatch.recorder.lab.ledger import count_states

CHANGES = [(0.0, "n1", "ok"), (60.0, "n1", "down")]


def test_two_restarted_replicas_changing_from_the_same_stored_look_are_stored_by_both() -> None:
    rows = [
        (0.2, "n1", "ok", True, None),
        (124.6, "n1", "down", True, 3.2),  # replica A's first look after the restart
        (133.2, "n1", "down", True, 3.2),  # replica B's, slower: the same change
    ]
    result = count_states(CHANGES, rows, bound_s=2.3, slack_s=1.0, end_s=90.0)
    assert result.twice == ["n1 -> down again at 133.2 s"]
    assert result.duplicated == []


def test_the_same_change_from_a_later_look_is_still_a_duplicate() -> None:
    rows = [
        (0.2, "n1", "ok", True, None),
        (124.6, "n1", "down", True, 3.2),
        (180.0, "n1", "down", True, 150.0),  # stored again after another look: a duplicate
    ]
    result = count_states(CHANGES, rows, bound_s=2.3, slack_s=1.0, end_s=90.0)
    assert result.duplicated == ["n1 -> down again at 180.0 s"]


def test_the_other_replicas_late_first_look_after_the_change_is_stored_by_both() -> None:
    """The short table's `poison` run at load 11 (CI-like, two replicas, nobody restarted):
    replica A saw the target draining at 73.4 s (its look before: 69.9 s), replica B's poll was
    slowed (0.8 s wall, ~8 s simulated) and saw it at 77.3 s (its look before: 69.7 s, before A's
    sighting): both intervals hold the one change, so it is not a duplicate."""
    changes = [(0.0, "i-1", "healthy"), (70.0, "i-1", "draining")]
    rows = [
        (1.0, "i-1", "healthy", True, None),
        (73.4, "i-1", "draining", True, 69.9),
        (77.3, "i-1", "draining", True, 69.7),
    ]
    result = count_states(changes, rows, bound_s=2.0, slack_s=1.0, end_s=90.0)
    assert result.twice == ["i-1 -> draining again at 77.3 s"]
    assert result.duplicated == [] and result.lost == []
