"""A refresh from a checkpoint writes a Service's rows node by node (replay.node_rows), so it
does not sort the Service's every window into detect's order (replay.node_cache.in_order):
after months that order held thousands of windows, sorted again on every refresh whatever
moved. The rows equal a rebuild's (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import node_cache, projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from tests.replay.test_projections import _context, _tables


def test_a_refresh_sorts_no_window_of_the_service(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated AWS NLB cluster, the second half of its history refreshed in four batches
    from the checkpoint of the first: the windows' sort key is never asked (before: once per
    window of each touched Service, every refresh), and rows and context equal a rebuild."""
    observations = list(run(load_scenario("aws-nlb"), seed=11).observations)
    half = len(observations) // 2
    cp, writer = Checkpoint(), EventWriter(engine, derive=write_facts)
    writer.write_all(observations[:half])
    projections.rebuild(engine, checkpoint=cp)
    keyed: Counter[str] = Counter()
    plain = node_cache._BY_START
    monkeypatch.setattr(node_cache, "_BY_START", lambda w: keyed.update([w.node]) or plain(w))
    rest = observations[half:]
    step = len(rest) // 4 + 1
    windows = 0
    for i in range(0, len(rest), step):
        writer.write(rest[i : i + step])
        projections.refresh(engine, checkpoint=cp)
        windows = max(windows, sum(len(nw.windows) for sw in cp.windows.values()
                                   for nw in sw.nodes.values()))  # fmt: skip
    assert windows > 0  # the refreshes had windows to sort
    assert not keyed, keyed
    monkeypatch.setattr(node_cache, "_BY_START", plain)
    refreshed, context = _tables(engine), _context(engine)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed
    assert _context(engine) == context
