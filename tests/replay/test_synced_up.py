"""A replacement shown programmed by kube-proxy's own sync metrics (replay.syncedup, called by
replay.podsup; docs/semantics.md, "The simulator's kube-proxy syncs as a real kube-proxy
reports them"): a sync that began after kube-proxy held the version listing the replacement
ready programmed it by its end.

tests/replay/test_count_listing.py's rollout (random 122 node-002's shape: the replacement
listed beside the old pod, then the old one terminating, the health check counting 1
throughout, the old pod dead at 11 s) with the prober's scrapes of kube-proxy's /metrics: the
real v1.21.1 page (tests/fixtures/kubeproxy) and a later scrape of the same process."""

from __future__ import annotations

from pathlib import Path

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.metrics import parse_metrics
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import CLUSTER, at, health, windows_of
from tests.replay.test_count_listing import rollout

PAGE = Path(__file__).resolve().parents[1] / "fixtures/kubeproxy"
PAGE /= "datadog-kubeproxy-v1.21.1-iptables-metrics-subset.prom"
LAST = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
COUNT = "kubeproxy_sync_proxy_rules_duration_seconds_count"
SUM = "kubeproxy_sync_proxy_rules_duration_seconds_sum"


def _scrape(t: float, synced: float, queued: float, more: int, busy: float) -> Observation:
    """The real page as kube-proxy on n1 would print it at `t`: its last sync ended at
    `synced`, the last change queued at `queued`, `more` syncs and `busy` s since the page."""
    metrics = parse_metrics(PAGE.read_text())
    metrics[LAST] = at(synced).timestamp()
    metrics[QUEUED] = at(queued).timestamp()
    metrics[COUNT] += more
    metrics[SUM] += busy
    metrics["process_start_time_seconds"] = at(-3600).timestamp()
    payload = {"port": 10249, "address": "127.0.0.1", "latency_ms": 2.0, "status": 200,
               "error": None, "metrics": metrics, "derived": None, "look": "sample"}  # fmt: skip
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyMetrics", "OBSERVED", payload,
                       node="n1")  # fmt: skip


def _rollout(sync_s: float) -> list[Window]:
    """test_count_listing's rollout (the health check counting 1 throughout) with two
    scrapes: at 6 s (the last sync at 5 s) and at 8.2 s, one sync more, ended at 8 s after
    running `sync_s`, the last change queued at 6.7 s (the old pod listed terminating)."""
    health_looks = [health(t, t - 1 if t > 2 else None, "n1", 1) for t in range(2, 41)]
    obs = rollout([*health_looks, _scrape(6, 5, 5, 0, 0.0), _scrape(8.2, 8, 6.7, 1, sync_s)])
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_sync_begun_after_the_listing_shows_the_replacement_programmed() -> None:
    # the sync that ended at 8 s ran 0.3 s: it began at 7.7 s, after the version of 6.5 s
    # listing p2 reached kube-proxy (the watch skew, 0.5 s), and took it: p2 programmed by
    # 8 s, 3 s before p1 died
    assert _rollout(0.3) == []


def test_a_sync_begun_before_the_listing_shows_nothing() -> None:
    # the same sync ran 4 s: it began at 4 s, before p2 was listed, and may not name it
    (window,) = _rollout(4.0)
    assert not window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(at(11))
