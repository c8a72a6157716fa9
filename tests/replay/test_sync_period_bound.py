"""kube-proxy's lag bound from the sync period its own /configz states (replay.syncperiod,
replay.proxy.proxy_lag_hi): 2 x the stated period, kube-proxy's health timeout, where every node
of the Service stated one and the probes measured too few lags; the proxy_lag_max_s assumption
(60 s) where a node stated none. The ProxyConfig payloads are the real kind cluster's /configz
(tests/fixtures/kubeproxy/raesene-kubeproxy-kind-configz.json) with its sync period set as
kube-proxy prints it (metav1.Duration: `10s`, `1m0s`), kept as the recorder keeps it
(parse_configz); times in seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.configz import GROUP, parse_configz
from gapwatch.replay.assumptions import DEFAULTS, US, DetectSettings
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi
from tests.replay.builders import CLUSTER, at, facts_of, one_node

SAMPLE = (
    Path(__file__).parents[1] / "fixtures" / "kubeproxy" / "raesene-kubeproxy-kind-configz.json"
)
SVC = ServiceRef(CLUSTER, "istio-system", "istio-ingressgateway")


def configz(t: float, node_name: str, **iptables: Any) -> Observation:
    """The node agent's ProxyConfig for the real answer with `iptables` set in its IPTables
    section (`SyncPeriod="10s"`), sent compact as kube-proxy's json.Marshal sends it."""
    doc = json.loads(SAMPLE.read_bytes())
    doc[GROUP]["IPTables"].update(iptables)
    kept = parse_configz(json.dumps(doc, separators=(",", ":")).encode())
    payload = {"port": 10249, "address": "127.0.0.1", "latency_ms": 2.0, "status": 200,
               "error": None, **kept, "look": "first"}  # fmt: skip
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyConfig", "OBSERVED", payload,
                       node=node_name)  # fmt: skip


def _state(*extra: Observation) -> FoldState:
    return fold(FoldState(), facts_of([*one_node(), *extra]))


def test_a_stated_ten_second_period_bounds_the_lag_at_twenty() -> None:
    state = _state(configz(2, "n1", SyncPeriod="10s"))
    assert proxy_lag_hi(state, SVC, DEFAULTS) == 20 * US


def test_the_kind_answers_default_period_is_the_assumptions_sixty() -> None:
    # the real answer states 30s: the bound the assumption gives, now read from the log
    assert proxy_lag_hi(_state(configz(2, "n1")), SVC, DEFAULTS) == 60 * US


def test_a_longer_stated_period_widens_the_bound() -> None:
    # kube-proxy does not call itself stuck before 2 x its period: 1m0s is a 120 s bound
    state = _state(configz(2, "n1", SyncPeriod="1m0s"))
    assert proxy_lag_hi(state, SVC, DEFAULTS) == 120 * US


def test_without_a_stated_period_the_assumption_holds() -> None:
    assert proxy_lag_hi(_state(), SVC, DEFAULTS) == 60 * US
    wider = DetectSettings(proxy_lag_max_s=90.0)
    assert proxy_lag_hi(_state(), SVC, wider) == 90 * US
    # an answer whose period is not Go duration text states none
    assert proxy_lag_hi(_state(configz(2, "n1", SyncPeriod="often")), SVC, DEFAULTS) == 60 * US


def test_a_restart_with_another_period_keeps_the_larger() -> None:
    state = _state(configz(2, "n1", SyncPeriod="10s"), configz(300, "n1", SyncPeriod="15s"))
    assert proxy_lag_hi(state, SVC, DEFAULTS) == 30 * US


def test_the_output_says_the_bound_was_read_from_the_configuration() -> None:
    from gapwatch.replay.syncperiod import lag_bound_reading

    stated = lag_bound_reading(_state(configz(2, "n1", SyncPeriod="10s")), SVC, DEFAULTS)
    assert stated.value == 20.0 and stated.measured
    assert stated.describe() == (
        "measured (1 sample, 2 x syncPeriod 10 s stated by kube-proxy's /configz on 1 node "
        "(its health timeout))"
    )
    assumed = lag_bound_reading(_state(), SVC, DEFAULTS)
    assert assumed.value == 60.0 and not assumed.measured
    assert assumed.describe() == (
        "assumed (default 60, 2 x kube-proxy's default syncPeriod 30 s; "
        "no /configz sync period on 1 of 1 nodes)"
    )
