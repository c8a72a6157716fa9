"""A node's measured lags are kept once for every caller (replay.lags): kube-proxy's alone are
those of the whole list, settings the lags do not read share them, and those they read (the
match window; the sync metrics' skews and list time where the metrics measure kube-proxy) are
measured again."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.replay import lags as lags_module
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import nodes_of
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.lags import lag_samples, node_lags
from tests.replay.test_sync_kept import _with_metrics
from tests.replay.test_syncs import _cluster, _slice, _state, late_sync_metrics

PROXY = "kube-proxy-programming"


def _simulated(preset: str, seed: int) -> FoldState:
    observations = run(load_scenario(preset), seed=seed).observations
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    return fold(FoldState(), facts)


def _measured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The nodes whose lags replay.lags measures from now on (one entry per measure)."""
    calls: list[str] = []
    measure = lags_module._node_lags

    def counted(*args: object, **kwargs: object) -> tuple[list[lags_module.LagSample], object]:
        calls.append(str(args[2]))
        return measure(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lags_module, "_node_lags", counted)
    return calls


@pytest.mark.parametrize("preset", ["aws-nlb", "seed-3node"])
def test_kube_proxy_lags_alone_are_those_of_the_whole_list(preset: str) -> None:
    """Asked first on a state of their own (nothing kept), kube-proxy's lags are the whole
    list's kube-proxy lags, in the same order; asked after the whole list, the same again."""
    alone = lag_samples(_simulated(preset, 3), proxy_only=True)
    state = _simulated(preset, 3)
    whole = lag_samples(state)
    assert alone and any(s.lag != PROXY for s in whole)
    assert alone == [s for s in whole if s.lag == PROXY]
    assert lag_samples(state, proxy_only=True) == alone


def test_settings_the_lags_do_not_read_measure_nothing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _simulated("aws-nlb", 3)
    svc = lb_facing(state)[0]
    first = node_lags(state, svc, DEFAULTS)
    calls = _measured(monkeypatch)
    other = replace(DEFAULTS, hc_interval_s=DEFAULTS.hc_interval_s * 3, proxy_lag_max_s=1.0)
    again = node_lags(state, svc, other)
    assert calls == []
    assert all(again[n] is first[n] for n in first)
    assert lag_samples(state, [svc], other, proxy_only=True) == [
        s for n in first for s in first[n] if s.lag == PROXY
    ]
    assert calls == []
    # the match window is read: every node is measured again, as a state of its own measures
    narrow = replace(DEFAULTS, match_window_s=2.0)
    expected = lag_samples(_simulated("aws-nlb", 3), [svc], narrow)
    calls.clear()
    assert lag_samples(state, [svc], narrow) == expected
    assert sorted(calls) == sorted(nodes_of(state, svc))
    assert lag_samples(state, [svc], narrow) != lag_samples(state, [svc], DEFAULTS)


def test_where_the_sync_metrics_measure_kube_proxy_their_skew_is_read() -> None:
    """A node without probes, its kube-proxy's metrics scraped (test_syncs): a watch skew
    wider than the looks' bounds leaves the change unmeasured, also after the default
    settings measured it on the same state."""
    metrics = late_sync_metrics()
    state = _state([*_cluster(), _slice(-100, ready=True), _slice(0, ready=False), *metrics])
    wide = replace(DEFAULTS, watch_skew_s=20.0)
    assert [(s.lag, s.seconds) for s in lag_samples(state)] == [(PROXY, 12.0)]
    assert lag_samples(state, settings=wide) == []
    assert [(s.lag, s.seconds) for s in lag_samples(state, proxy_only=True)] == [(PROXY, 12.0)]


def test_scrapes_measure_no_probed_node_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulated run with kube-proxy's metrics, its scrapes folded in 4 batches after the
    rest: a batch (scrapes alone) measures no node with a health-check or NodePort lane
    again (its lags read no look: `_looks_unread`), and the lags equal those of a state that
    folded the same facts at once. Before: every scraped node was measured again."""
    rest, scrapes = _with_metrics("aws-nlb", 3)
    state = fold(FoldState(), [f for e in rest for f in e])
    lag_samples(state)
    calls = _measured(monkeypatch)
    probed = {
        node for kind in ("health", "nodeport") for (_, node), lane in state.probes[kind].items()
        if lane
    }  # fmt: skip
    cuts = [round(k * len(scrapes) / 4) for k in range(5)]
    for lo, hi in pairwise(cuts):
        fold(state, [f for e in scrapes[lo:hi] for f in e])
        calls.clear()
        got = lag_samples(state)
        assert not probed & set(calls)
        whole = fold(FoldState(), [f for e in rest + scrapes[:hi] for f in e])
        assert got == lag_samples(whole)
    assert probed
