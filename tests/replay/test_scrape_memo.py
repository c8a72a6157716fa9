"""A batch whose facts of the cluster are kube-proxy's metrics alone (scrapes) keeps what no
scrape moves: each Service's lane versions where every node of it has a health-check or
NodePort lane (replay.checkpoint `_versions_unsynced`), there its kube-proxy lag bound too
(but across a /configz answer), and its LB mode (`_probed_only`); and
each Service's stored context reads its own probe lanes from one index of them
(replay.openness_scope.probe_lanes), not a scan of every Service's. The refreshed rows and
segments equal a rebuild's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import checkpoint as checkpoint_mod
from gapwatch.replay import openness_scope, projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint, _probed_only
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold, lb_facing
from tests.replay import builders as b
from tests.replay.builders import facts_of, pod
from tests.replay.test_lane_order import _rows
from tests.replay.test_segment_tail import _stored
from tests.replay.test_sync_kept import probed_and_scraped
from tests.replay.test_sync_period_bound import configz
from tests.replay.test_sync_seen import _scrapes
from tests.replay.test_windows_kept import stopped_unprobed


def _counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[object]:
    """The calls of `module.name` inside `projections.refresh` from now on (not in the
    rebuilds the test compares with)."""
    calls: list[object] = []
    real, refresh = getattr(module, name), projections.refresh
    inside: list[bool] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        if inside:
            calls.append(args[1] if len(args) > 1 else None)
        return real(*args, **kwargs)

    def refreshing(*args: Any, **kwargs: Any) -> Any:
        inside.append(True)
        try:
            return refresh(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(module, name, counted)
    monkeypatch.setattr(projections, "refresh", refreshing)
    return calls


def test_scrapes_keep_a_probed_services_versions_lb_mode_and_lag_bound(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node probed 100 times and scraped 300 times, refreshed with scrapes alone: the
    Service's lane versions (its node has a health-check lane) are not found again, and its
    LB mode and kube-proxy lag bound are kept through the fold ([(0, True, True)] twice;
    before, the versions were found on every batch and neither value was kept: (1, False,
    False)); a /configz answer with the scrapes finds the lag bound again (a stated sync
    period bounds it: too few lags were measured here), a Node fact of the cluster all three.
    The rows and segments equal a rebuild's after each batch."""
    versions = _counted(monkeypatch, checkpoint_mod, "_lane_versions")
    kept: list[tuple[bool, bool]] = []
    advance = Checkpoint.advance

    def advanced(self: Checkpoint, *args: Any, **kwargs: Any) -> Any:
        out = advance(self, *args, **kwargs)
        memo = out[0].memo
        kept.append((bool(memo.ccm_mode), bool(memo.proxy_lag_hi)))
        return out

    monkeypatch.setattr(Checkpoint, "advance", advanced)
    refreshed = probed_and_scraped(engine, [])
    per_batch = []
    batches = (
        _scrapes(301, 2),
        _scrapes(303, 5),
        [configz(308.5, "n1", SyncPeriod="10s"), *_scrapes(309, 2)],
        [b.node(312, "n1"), *_scrapes(313, 2)],
    )
    for batch in batches:
        versions.clear()
        refreshed(*batch)
        per_batch.append((len(versions), *kept[-1]))
    assert per_batch == [(0, True, True), (0, True, True), (0, True, False), (1, False, False)]


def test_scrapes_find_the_versions_of_a_node_without_probes_again(engine: Engine) -> None:
    """test_node_alone's stopped node n1 (polled by the LB, no probe look) with its kube-proxy
    scraped every second, the scrapes refreshed in batches after a rebuild: n1's proxy lane
    is read from its looks (checkpoint.programmed_inputs, in its lane versions), so each batch
    finds the Service's versions again and the segments equal a rebuild's. Keeping them
    across the scrapes as a probed node's are fails here (the segments stay the rebuild's
    of before the scrapes)."""
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(stopped_unprobed())
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    before = _stored(engine)
    moved = []
    for lo in (1, 60, 120):
        writer.write(_scrapes(lo, 60))
        projections.refresh(engine, checkpoint=cp)
        rows = _rows(engine), _stored(engine)
        moved.append(rows[1] != before)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows
    assert any(moved)  # the scrapes moved n1's proxy lane: the test reads what it claims


def test_only_metrics_facts_keep_the_lb_mode() -> None:
    """`_probed_only` over the facts of a batch: a Service's probe samples and any kube-proxy
    metrics of its cluster keep it; a Pod, a Node or a CloudTrail call of the cluster (which
    `ccm_mode` may read: membership.node_driven_by_trail) does not, nor another of its own
    facts."""
    svc = b.service(0)
    rows = [list(f) for i, o in enumerate([svc, *_scrapes(1, 3)], 1) for f in derive(i, o)]
    (ref,) = lb_facing(fold(FoldState(), rows))
    scrapes = rows[1:]
    probe = [list(f) for f in derive(9, b.health(2, None, "n1", 1))]
    assert _probed_only([*scrapes, *probe])(ref)
    for other in (b.node(3, "n3"), pod(3, "p9", "n1", "ready"), b.eps(3, [("p1", "n1", "ready")])):
        assert not _probed_only([*scrapes, *(list(f) for f in derive(10, other))])(ref)


def test_the_context_reads_each_services_probe_lanes_from_one_index() -> None:
    """Two Services' probe lanes folded in two batches, the second adding a lane of each (a
    new node's, a new kind's): `context_rows` after each equals that of a state folded at
    once, and names the new lanes (an index kept past the lanes it was found at would miss
    them); its lanes are those of a scan of every lane, in the same order."""
    one = [b.service(0), *b.polled("n1", [1.0, 6.0], lambda t: "healthy", 31805)]
    one += [b.health(2, None, "n1", 1), b.nodeport(3, None, "n2", "connected")]
    other = [_other(o) for o in one[1:]]
    more = [b.health(8, None, "n3", 1), b.nodeport(9, None, "n1", "connected")]
    more += [_other(o) for o in more]
    state = FoldState()
    fold(state, facts_of([*one, *other]))
    refs = sorted({s for lanes in state.probes.values() for s, _ in lanes}, key=str)
    assert len(refs) == 2
    first = {svc: openness_scope.context_rows(state, svc, DEFAULTS) for svc in refs}
    fold(state, facts_of(more))
    whole = fold(FoldState(), facts_of([*one, *other, *more]))
    for svc in refs:
        now = openness_scope.context_rows(state, svc, DEFAULTS)
        assert now == openness_scope.context_rows(whole, svc, DEFAULTS)
        assert len(now) == len(first[svc]) + 2
        scanned = [(k, n) for k in state.probes for s, n in state.probes[k] if s == svc]
        assert openness_scope.probe_lanes(state)[svc] == scanned


def _other(obs: Observation) -> Observation:
    """The same observation of a second Service, `other` (its probe and LB samples name it)."""
    return replace(obs, name="other")
