"""replay.node_rows: a refresh counts the failed requests of a moved node's windows, and
gives them their rollouts, from where they moved, keeping what the windows replay.node_cache
kept as they were had, and stores what a rebuild stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.replay import logclock, node_rows, row_changes
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.model import Window
from tests.replay import builders
from tests.replay import test_gap_tail as blips
from tests.replay import test_suffix_stretch as stretch
from tests.replay.test_refresh_checkpoint import _equals_rebuild, _write_in


def test_a_refresh_counts_from_where_the_windows_moved(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """n1's windows (`_refreshed`) are counted from the suffix's instant on (the last few
    blips'), not all of them (on the code before: 80, 85 and 90)."""
    given: list[int] = []
    plain = logclock.counted

    def counting(state: Any, windows: Sequence[Window], *args: Any) -> list[Window]:
        if any(w.node == "n1" for w in windows) or not windows:
            given.append(len(windows))
        return plain(state, windows, *args)

    _refreshed(engine, monkeypatch, "counted", counting)
    assert given and max(given) <= 25, given


def _refreshed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, name: str, wrap: Any, module: Any = node_rows
) -> None:
    """n1's NodePort times out every 200 s for 18,000 s (90 windows): stored up to its last
    3,000 s, then refreshed with them in 3 batches (`module`'s `name` is `wrap` there), and
    the rows are a rebuild's."""
    history = blips._history()
    cut = builders.at(stretch.END - 3000.0)
    late = [o for o in history if o.observed_at > cut]
    cp = Checkpoint()
    _write_in(engine, [[o for o in history if o.observed_at <= cut]], cp)
    monkeypatch.setattr(module, name, wrap)
    third = len(late) // 3
    _write_in(engine, [late[:third], late[third : 2 * third], late[2 * third :]], cp)
    _equals_rebuild(engine)


def test_a_refresh_assigns_rollouts_from_where_the_windows_moved(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refreshes give n1's windows their rollouts (`reassigned`, `assign`) from the
    suffix's instant on, not all of them (on the code before: 80, 85 and 90)."""
    given: list[int] = []
    plain = node_rows.reassigned

    def counting(ordered: Sequence[Window], *args: Any) -> list[Window]:
        if any(w.node == "n1" for w in ordered):
            given.append(len(ordered))
        return plain(ordered, *args)

    _refreshed(engine, monkeypatch, "reassigned", counting)
    assert given and max(given) <= 25, given


def test_windows_of_no_rollout_move_no_rollout_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refreshes move windows of no rollout only: no rollout's row is found again,
    and no window is gathered by rollout (on the code before: every window of the Service
    under `None`, 80, 85 and 90, each refresh)."""
    gathered: list[int] = []
    plain = row_changes._owned

    def counting(*args: Any) -> dict[str | None, list[Window]]:
        out = plain(*args)
        gathered.append(sum(map(len, out.values())))
        return out

    _refreshed(engine, monkeypatch, "_owned", counting, row_changes)
    assert sum(gathered) == 0, gathered
