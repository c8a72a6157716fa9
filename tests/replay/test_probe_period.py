"""The probe period replay reads from the stored looks (replay.proxy.probe_period): the gaps a
prober that kept looking names, not the stretch a restarted prober did not look (issue 17:
`resume` rows held the lab's NODE2 window open for minutes, sigkill fault seed 6).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.load import _FACT_TYPES, _PROBE_COLUMNS, _fold_probe_columns
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import probe_period, proxy_lag_hi
from tests.replay.builders import CLUSTER, NS, SVC, facts_of, health, service

GW = ServiceRef(CLUSTER, NS, SVC)


def _look(obs: Observation, why: str) -> Observation:
    return replace(obs, payload={**obs.payload, "look": why})


def _restarted_prober() -> list[Observation]:
    """One node's health looks, every second: a first look, a heartbeat, a change, then the
    prober is killed; restarted 200 s later, its first look (same state) is a `resume` that
    names the stored change, and it looks every second again."""
    return [
        service(0),
        _look(health(1, None, "n1", 1), "first"),
        _look(health(61, 60, "n1", 1), "heartbeat"),
        _look(health(70, 69, "n1", 0), "change"),
        _look(health(270, 70, "n1", 0), "resume"),
        _look(health(330, 329, "n1", 0), "heartbeat"),
    ]


def _bulk(rows: list[Any]) -> FoldState:
    """The same facts through the bulk path replay.load takes on PostgreSQL."""
    state = fold(FoldState(), [r for r in rows if r.fact not in ("health", "nodeport")])
    probes = [r for r in rows if r.fact in ("health", "nodeport")]
    table = pa.table(
        {
            c: pa.array([r[FACT_COLUMNS.index(c)] for r in probes], type=_FACT_TYPES[c])
            for c in _PROBE_COLUMNS
        }
    )
    _fold_probe_columns(state, table)
    return state


def test_a_resume_names_no_probe_period() -> None:
    rows = facts_of(_restarted_prober())
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert probe_period(state, GW) == 1.0
        # the kube-proxy lag bound rests on half a period, not on half the restart's 200 s
        assert proxy_lag_hi(state, GW, DetectSettings()) < 100_000_000


def test_a_gap_between_looks_of_a_running_prober_is_the_period() -> None:
    # the same looks without the restart's word: a 200 s gap a prober that kept looking names
    # is its period (a prober looking that seldom), as before
    obs = [
        o if o.payload.get("look") != "resume" else _look(o, "heartbeat")
        for o in _restarted_prober()
    ]
    rows = facts_of(obs)
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert probe_period(state, GW) == 200.0
