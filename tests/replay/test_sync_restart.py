"""A probed turn-on and kube-proxy's rules-sync count, from /metrics pages as kube-proxy serves
them (Prometheus text, the rules-sync histogram with its `_sum` and `_count` as every
histogram prints them: tests/fixtures/kubeproxy), read by the prober's own parser
(recorder.sources.kubeproxy.payloads.metrics_payload) (replay/syncorder.py).

n1 runs kube-proxy 1.25 with one pod, p1; n2 has p2. kube-proxy on n1 is behind: it ran a sync
at 5 s and its next at 31.6 s (0.05 s long), so a page scraped every 2 s from 6.5 s shows the
count 7 and the last sync at 5 s through 30.5 s, and 8 from 32.5 s."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import RawAnswer
from gapwatch.recorder.sources.kubeproxy.payloads import metrics_payload
from gapwatch.recorder.sources.kubeproxy.targets import Target
from gapwatch.recorder.sources.kubeproxy.tracker import TargetKey
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.lanes import lanes
from tests.replay.builders import (
    CLUSTER,
    at,
    eps,
    facts_of,
    health,
    pod,
    service,
    target,
)
from tests.replay.builders import node as node_obj

SETTINGS = DetectSettings(ccm_mode="endpoint", proxy_terminating_endpoints=False)
BUCKETS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048)


def page(synced: float, queued: float, durations: list[float]) -> str:
    """kube-proxy's /metrics as it serves them (the parts replay reads), after the syncs that
    took `durations`: the last ended at `synced`, the last change was queued at `queued`
    (seconds of the test's clock), the process started 600 s before its start."""
    lines = [
        "# HELP kubeproxy_sync_proxy_rules_duration_seconds [ALPHA] SyncProxyRules latency in"
        " seconds",
        "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram",
    ]
    for le in BUCKETS:
        below = sum(1 for d in durations if d <= le)
        lines.append(f'kubeproxy_sync_proxy_rules_duration_seconds_bucket{{le="{le}"}} {below}')
    lines += [
        f'kubeproxy_sync_proxy_rules_duration_seconds_bucket{{le="+Inf"}} {len(durations)}',
        f"kubeproxy_sync_proxy_rules_duration_seconds_sum {sum(durations)!r}",
        f"kubeproxy_sync_proxy_rules_duration_seconds_count {len(durations)}",
        "# HELP kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds [ALPHA] The last time a"
        " sync of proxy rules was queued",
        "# TYPE kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge",
        f"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds {at(queued).timestamp()!r}",
        "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds [ALPHA] The last time proxy"
        " rules were successfully synced",
        "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
        f"kubeproxy_sync_proxy_rules_last_timestamp_seconds {at(synced).timestamp()!r}",
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {at(-600).timestamp()!r}",
    ]
    return "\n".join(lines) + "\n"


def scrape(t: float, text: str) -> Observation:
    """The prober's look at n1's kube-proxy /metrics at `t`: the page through its own parser."""
    where = Target(TargetKey("ProxyMetrics", "n1"), "10.0.0.11", 10249, "http", "/metrics")
    answer = RawAnswer(200, text.encode(), None, None, None, 4.0)
    payload = metrics_payload(where, answer, 4 * 1024 * 1024)
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyMetrics", "OBSERVED", payload,
                       node="n1")  # fmt: skip


def behind(changes: list[float], sync_at: float | None = None) -> list[Observation]:
    """n1's pages: syncs of 0.2 s and 0.1 s before 5 s, one at `sync_at` (0.05 s) if any, and
    31.6 s's (0.05 s); the last change queued at the last of `changes` before each look."""
    out = []
    for i in range(18):
        t = 6.5 + 2 * i
        syncs = [(4.0, 0.2), (5.0, 0.1)]
        if sync_at is not None and sync_at < t:
            syncs.append((sync_at, 0.05))
        if t > 31.6:
            syncs.append((31.6, 0.05))
        queued = max([c for c in changes if c < t], default=4.9)
        out.append(scrape(t, page(syncs[-1][0], queued, [d for _, d in syncs])))
    return out


def joined() -> list[Observation]:
    """n1's first pod p1 ready and listed at 30.2 s; the health check on n1 answered 503
    counting no local endpoint every 2 s to 30 s, then 200 counting one at 32 s; n1 unhealthy
    in the node-driven LB's eyes until healthy at 33 s."""
    obs = [
        service(0),
        node_obj(0, "n1", version="v1.25.16"),
        node_obj(0, "n2", version="v1.25.16"),
        pod(0, "p2", "n2", "ready"),
        eps(0, [("p2", "n2", "ready")]),
        pod(29.5, "p1", "n1", "pending"),
        pod(30.2, "p1", "n1", "ready"),
        eps(30.2, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
    ]
    for t in range(2, 41, 2):
        obs.append(health(t, None if t == 2 else t - 2, "n1", 0 if t <= 30 else 1))
    for t in range(1, 42, 2):
        state = "healthy" if t >= 33 else "unhealthy"
        obs.append(
            target(t, None if t == 1 else t - 2, "n1", state, "ADDED" if t == 1 else "MODIFIED")
        )
        obs.append(
            target(t, None if t == 1 else t - 2, "n2", "healthy", "ADDED" if t == 1 else "MODIFIED")
        )
    obs += behind([30.2])
    return sorted(obs, key=lambda o: o.observed_at)


def _s(at_us: int) -> float:
    return (at_us - to_micros(at(0))) / 1e6


def test_a_health_check_turn_on_a_sync_made_lies_in_that_sync() -> None:
    """The health check's 503 counting none, then 200 counting one, is a sync's change
    (kube-proxy's health server counts from its syncs); the looks show the one sync between
    them ended at 31.6 s and ran 0.05 s: F turned on in 31.55-31.6 s, not anywhere in
    30-31.6 s (the sync was looked for after the step had been moved to its end, and not
    found)."""
    state = fold(FoldState(), facts_of(joined()))
    (svc,) = {svc for svc, node in state.endpoints if node == "n1"}
    serves = lanes(state, svc, "n1", SETTINGS, 60_000_000).serves
    assert [_s(iv.start) for iv in serves.possible] == [31.549999]
