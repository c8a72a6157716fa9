"""What a refresh shares or keeps since round 9 of issue 15, each checked against computing it
afresh: a rollout's row is computed again only when a window it owns, or owned, changed (not
for every rollout a moved node's windows touch); the lags of a Service's nodes are one map for
every settings object where no node reads the settings that differ; ProxyTerminatingEndpoints
evidence is found once per lag bound, not once per settings object."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gapwatch.replay import lags as lags_module
from gapwatch.replay import proxy as proxy_module
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.group import with_windows
from gapwatch.replay.lags import ccm_lag_hi, lag_samples, node_lags
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.node_rows import NodeRows, ServiceRows
from gapwatch.replay.projection_rows import write_rows
from gapwatch.replay.proxy import pte_known
from gapwatch.replay.row_changes import _owned, rollout_rows, write_changes
from tests.replay.builders import CLUSTER, NS, SVC, simulated_halves
from tests.replay.test_lag_memo import _simulated
from tests.replay.test_pte_evidence import _answers, _slice, _state, _terminating

GW = ServiceRef(CLUSTER, NS, SVC)


def _window(node: str, start_s: int, rollout: str | None) -> Window:
    us = start_s * 1_000_000
    return Window(GW, node, "closed-before-deregistered", us, us + 2_000_000, us, us,
                  us + 2_000_000, us + 2_000_000, "measured", rollout=rollout)  # fmt: skip


def _span(rid: str, start_s: int, end_s: int) -> Rollout:
    return Rollout(rid, GW, "rollout", "Deployment/gw", "a", "b", start_s * 1_000_000,
                   end_s * 1_000_000, nodes=("n1", "n2"))  # fmt: skip


def _service_rows(nodes: dict[str, list[Window]], spans: list[Rollout]) -> ServiceRows:
    rows = ServiceRows(spans=spans)
    for node, windows in nodes.items():
        rows.nodes[node] = NodeRows(windows, None, windows, windows, [])
    return rows


def _stored(engine: Engine) -> dict[str, tuple[int, float]]:
    with engine.connect() as conn:
        query = text("SELECT id, windows, gap_seconds FROM replay_rollouts")
        return {r[0]: (int(r[1]), float(r[2])) for r in conn.execute(query)}


@pytest.mark.parametrize("moves", ["a window added", "a window to the other rollout"])
def test_a_rollout_row_follows_the_windows_that_changed(engine: Engine, moves: str) -> None:
    """Rollouts r1 (0-100 s) and r2 (100-300 s), n1 and n2 with a window in each. A refresh
    gives n1 a new list: one window more in r1, or its r1 window now in r2; n2 keeps its list.
    The rows written as the changes equal the rows of the new windows written afresh, and a
    rollout no changed window touches keeps its row as it was (not computed again); the windows
    per group kept for the next refresh are those all the windows give."""
    spans = [_span("r1", 0, 100), _span("r2", 100, 300), _span("r3", 300, 400)]
    n2 = [_window("n2", 150, "r2")]
    prev = _service_rows({"n1": [_window("n1", 10, "r1")], "n2": n2}, spans)
    rollout_rows(None, prev)
    with engine.begin() as conn:
        windows = [w for rows in prev.nodes.values() for w in rows.windows]
        write_rows(conn, windows, with_windows(spans, prev.owned), [])
    if moves == "a window added":
        n1 = [_window("n1", 10, "r1"), _window("n1", 50, "r1")]
    else:
        n1 = [_window("n1", 10, "r2")]
    now = _service_rows({"n1": n1, "n2": n2}, [replace(s) for s in spans])
    with engine.begin() as conn:
        assert write_changes(conn, GW, prev, now)
    assert now.span_rows["r3"] is prev.span_rows["r3"]
    assert now.owned == _owned(now)  # the groups kept and those found again, as all at once
    refreshed = _stored(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM replay_rollouts"))
        windows = [w for rows in now.nodes.values() for w in rows.windows]
        owned: dict[str | None, list[Window]] = {}
        for w in sorted(windows, key=lambda w: (w.start_us, w.node)):
            owned.setdefault(w.rollout, []).append(w)
        write_rows(conn, [], with_windows(spans, owned), [])
    assert refreshed == _stored(engine)
    added = moves == "a window added"
    expected = {"r1": (2, 4.0), "r2": (1, 2.0)} if added else {"r1": (0, 0.0), "r2": (2, 4.0)}
    assert {r: refreshed[r] for r in expected} == expected


def test_settings_differing_in_what_no_node_reads_share_the_lag_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A simulated gateway whose nodes are all probed (none measured by kube-proxy's sync
    metrics alone): a watch skew other than the default reads the map the defaults found (no
    scan of the nodes again), and it equals the lags a state of its own finds under that skew.
    Where a node is measured by the metrics alone the skew is read and the map is not shared
    (tests/replay/test_lag_memo.py, the last test)."""
    state = _simulated("aws-nlb", 3)
    svc = lb_facing(state)[0]
    first = node_lags(state, svc, DEFAULTS)
    scans: list[object] = []
    scan = lags_module._scan

    def counted(*args: Any) -> Any:
        scans.append(args)
        return scan(*args)

    monkeypatch.setattr(lags_module, "_scan", counted)
    skewed = replace(DEFAULTS, watch_skew_s=DEFAULTS.watch_skew_s + 3.0)
    assert node_lags(state, svc, skewed) == first
    assert scans == []
    assert lag_samples(state, [svc], skewed) == lag_samples(_simulated("aws-nlb", 3), [svc],
                                                            skewed)  # fmt: skip


def test_pte_evidence_is_found_once_per_lag_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """kube-proxy 1.26, its NodePort answering 65-80 s after the endpoint turned
    serving-terminating (tests/replay/test_pte_evidence.py): past the 60 s lag bound that is
    PTE on; under a 120 s bound it says nothing. Asked with both settings on one state, each
    gets its own answer (a state of its own gives the same); a settings object with the
    same bound reads the evidence found for it."""
    obs = [*_terminating("v1.26.15"), _slice(1, ("p1", "n1", "ready")),
           _slice(20, ("p1", "n1", "terminating")), *_answers("n1", 85, 100)]  # fmt: skip
    state = _state(obs)
    wide = DetectSettings(proxy_lag_max_s=120.0)
    assert pte_known(state, "c1", DEFAULTS) is True
    assert pte_known(state, "c1", wide) is None is pte_known(_state(obs), "c1", wide)
    passes: list[int] = []
    evidence = proxy_module._pte_evidence

    def counted(state: FoldState, cluster: str, settle: int) -> bool | None:
        passes.append(settle)
        return evidence(state, cluster, settle)

    monkeypatch.setattr(proxy_module, "_pte_evidence", counted)
    same_bound = replace(DEFAULTS, watch_skew_s=DEFAULTS.watch_skew_s + 1.0)
    assert pte_known(state, "c1", same_bound) is True
    assert passes == []


def test_the_poll_gap_kept_per_lane_reads_the_samples_added_since() -> None:
    """seed-3node (the CCM's lags measured from the LB polls) folded in halves: after each
    half the CCM's lag bound, which reads the largest gap between an LB poll and the look
    before it (kept per poll lane with its length), equals one fold's; and a lane given a
    wider gap after it was read gives that gap (reading the kept gap alone would not)."""
    facts, half = simulated_halves("seed-3node", 3)
    state = fold(FoldState(), facts[:half])
    svc = lb_facing(state)[0]
    first = ccm_lag_hi(state, svc, DEFAULTS)
    assert first == ccm_lag_hi(fold(FoldState(), facts[:half]), svc, DEFAULTS)
    fold(state, facts[half:])
    assert ccm_lag_hi(state, svc, DEFAULTS) == ccm_lag_hi(fold(FoldState(), facts), svc, DEFAULTS)
    node = sorted(state.service_nodes[svc])[0]
    lane = state.probes["target"][(svc, node)]
    widest = lags_module._poll_gap(state, (svc, node), lane)
    last = lane[-1]
    lane.append(last._replace(at_us=last.at_us + widest + 7, prev_us=last.at_us))
    assert lags_module._poll_gap(state, (svc, node), lane) == widest + 7
