"""replay.node_rows: a refresh counts the failed requests of a moved node's windows from
where they moved, keeping the counts of the windows replay.node_cache kept as they were, and
stores what a rebuild stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.replay import logclock, node_rows
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.model import Window
from tests.replay import builders
from tests.replay import test_gap_tail as blips
from tests.replay import test_suffix_stretch as stretch
from tests.replay.test_refresh_checkpoint import _equals_rebuild, _write_in


def test_a_refresh_counts_from_where_the_windows_moved(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """n1's NodePort times out every 200 s for 18,000 s (90 windows), refreshed with its last
    3,000 s in 3 batches: each refresh counts n1's windows from the suffix's instant on (the
    last few blips'), not all of them (on the code before: 75, 80, 85 and 90), and the rows
    are a rebuild's."""
    history = blips._history()
    cut = builders.at(stretch.END - 3000.0)
    early = [o for o in history if o.observed_at <= cut]
    late = [o for o in history if o.observed_at > cut]
    given: list[int] = []
    plain = logclock.counted

    def counting(state: Any, windows: Sequence[Window], *args: Any) -> list[Window]:
        if any(w.node == "n1" for w in windows) or not windows:
            given.append(len(windows))
        return plain(state, windows, *args)

    cp = Checkpoint()
    _write_in(engine, [early], cp)
    monkeypatch.setattr(node_rows, "counted", counting)
    third = len(late) // 3
    _write_in(engine, [late[:third], late[third : 2 * third], late[2 * third :]], cp)
    assert given and max(given) <= 25, given
    _equals_rebuild(engine)
