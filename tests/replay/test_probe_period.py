"""The probe period replay reads from the stored looks (replay.proxy.probe_period): the gaps a
prober that kept looking names, not the stretch a restarted prober did not look (issue 17:
`resume` rows held the lab's NODE2 window open for minutes, sigkill fault seed 6; a restarted
prober's first look that sees a change names the stored look before the kill just as well, and
says so: payload `resumed`). An LB poller's first look after a restart likewise.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.copyfold import _FACT_TYPES, _PROBE_COLUMNS, _fold_probe_columns
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import probe_period, proxy_lag_hi
from tests.replay.builders import CLUSTER, NS, SVC, facts_of, health, service, target

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


def _resumed(obs: Observation) -> Observation:
    return replace(obs, payload={**obs.payload, "resumed": True})


def _restarted_into_a_change() -> list[Observation]:
    """As `_restarted_prober`, but the restarted prober's first look sees the node's endpoint
    back: a `change` whose previous look is the stored one from before the kill (200 s)."""
    return [
        service(0),
        _look(health(1, None, "n1", 1), "first"),
        _look(health(61, 60, "n1", 1), "heartbeat"),
        _look(health(70, 69, "n1", 0), "change"),
        _resumed(_look(health(270, 70, "n1", 1), "change")),
        _look(health(330, 329, "n1", 1), "heartbeat"),
    ]


def _bulk(rows: list[Any]) -> FoldState:
    """The same facts through the bulk path replay.load takes on PostgreSQL."""
    probed = ("health", "nodeport", "target")
    state = fold(FoldState(), [r for r in rows if r.fact not in probed])
    probes = [r for r in rows if r.fact in probed]
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


def test_a_restarted_probers_first_change_names_no_probe_period() -> None:
    rows = facts_of(_restarted_into_a_change())
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert probe_period(state, GW) == 1.0
        assert proxy_lag_hi(state, GW, DetectSettings()) < 100_000_000
        # the change itself stays, bounded by the stored look before the kill
        (lane,) = state.probes["health"].values()
        assert [(s.at_us - lane[0].at_us, s.value) for s in lane][-1] == (269_000_000, "200")
        assert lane[-1].prev_us is not None and lane[-1].at_us - lane[-1].prev_us == 200_000_000


def test_the_same_change_without_the_word_is_a_gap_of_the_period() -> None:
    obs = [replace(o, payload={k: v for k, v in o.payload.items() if k != "resumed"})
           for o in _restarted_into_a_change()]  # fmt: skip
    rows = facts_of(obs)
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert probe_period(state, GW) == 200.0


def test_an_lb_pollers_first_look_after_a_restart_names_no_poll_period() -> None:
    # polled every 5 s; killed after 20 s, restarted at 80 s: its first look sees the target
    # draining, bounded by the stored look at 20 s (recorder/sources/lb/tracker.py)
    looks = [
        target(5, None, "n1", "healthy", op="ADDED"),
        target(20, 15, "n1", "unhealthy"),
        _resumed(target(80, 20, "n1", "draining")),
        target(85, 80, "n1", "healthy"),
    ]
    key = ("target", CLUSTER, NS, SVC, "n1")
    rows = facts_of([service(0), *looks])
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert state.look_gap[key] == 5_000_000
    rows = facts_of([service(0), *looks[:2], target(80, 20, "n1", "draining"), looks[3]])
    for state in (fold(FoldState(), rows), _bulk(rows)):
        assert state.look_gap[key] == 60_000_000
