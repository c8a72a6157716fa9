"""replay.row_changes: a node's stored rows diffed against its new ones (`_diff`) are the two
lists' multiset difference, and a list that grew at its end is compared without a Python step
per row it kept (resumed.common_prefix finds the matching head)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gapwatch.replay import resumed, row_changes


def _edited(rng: random.Random, rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`rows` recomputed (equal rows as new objects, now and then), a few changed, dropped or
    inserted anywhere, more appended: as a refreshed node's windows or lags."""
    out = [(a, b) if rng.random() < 0.2 else r for r in rows for a, b in (r,)]
    for _ in range(rng.choice((0, 0, 1, 2, 5))):
        k = rng.randrange(len(out) + 1)
        move = rng.random()
        if move < 0.3 and k < len(out):
            del out[k]
        elif move < 0.6 and k < len(out):
            out[k] = (out[k][0], out[k][1] + 1)
        else:
            out.insert(k, (rng.randrange(50), rng.randrange(3)))
    out += [(rng.randrange(50), rng.randrange(3)) for _ in range(rng.choice((0, 1, 4, 30)))]
    return out


def test_diff_is_the_multiset_difference() -> None:
    """Random lists (repeated rows among them) against their edited copies: the stale and new
    rows are what Counter's difference gives, and the common prefix is the longest."""
    rng = random.Random(3131)
    for _ in range(3000):
        before = [(rng.randrange(50), rng.randrange(3)) for _ in range(rng.choice((0, 1, 5, 60)))]
        after = before if rng.random() < 0.05 else _edited(rng, before)
        stale: list[tuple[int, int]] = []
        new: list[tuple[int, int]] = []
        row_changes._diff(before, after, stale, new)
        assert Counter(stale) == Counter(before) - Counter(after)
        assert Counter(new) == Counter(after) - Counter(before)
        lo = resumed.common_prefix(before, after)
        assert before[:lo] == after[:lo]
        assert lo == min(len(before), len(after)) or before[lo] != after[lo]


def test_a_grown_list_is_diffed_without_a_step_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's 5,000 rows kept and 20 new ones after them: `_same` (a Python call) is asked of
    one pair at most, the last new row against the last old one (before: 5,000 times, once a
    kept row, growing with the node's history)."""
    asked: list[int] = []
    plain = row_changes._same

    def counting(x: object, y: object) -> bool:
        asked.append(1)
        return plain(x, y)

    monkeypatch.setattr(row_changes, "_same", counting)
    before = [(k, k % 3) for k in range(5000)]
    after = [*before, *((k, 0) for k in range(5000, 5020))]
    stale: list[tuple[int, int]] = []
    new: list[tuple[int, int]] = []
    row_changes._diff(before, after, stale, new)
    assert (stale, new) == ([], after[5000:])
    assert len(asked) <= 1
