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
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.lanes import lanes
from gapwatch.replay.model import Window
from tests.replay.builders import (
    CLUSTER,
    at,
    eps,
    facts_of,
    health,
    nodeport,
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


def two_pods() -> list[Observation]:
    """n1 and n2 on kube-proxy 1.25, p1 ready on n1 and p2 on n2, listed so at 0 s."""
    return [
        service(0),
        node_obj(0, "n1", version="v1.25.16"),
        node_obj(0, "n2", version="v1.25.16"),
        pod(0, "p1", "n1", "ready"),
        pod(0, "p2", "n2", "ready"),
        eps(0, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
    ]


def restarted(sync_at: float | None) -> list[Observation]:
    """p1's container stopped at 19 s and started again: p1 not ready (its endpoint too) at
    19.5 s, ready again at 30.2 s. The NodePort refused from 20 s to 30 s and connected at
    32 s; the endpoint-driven CCM deregistered n1 (absent at 25 s) and registered it again,
    healthy at 31 s. kube-proxy on n1 ran no sync from 5 s to 31.6 s (`behind`), or one more
    at `sync_at`."""
    obs = [
        *two_pods(),
        target(0, None, "n1", "healthy", "ADDED", check_port=32999),
        target(0, None, "n2", "healthy", "ADDED", check_port=32999),
        pod(19.5, "p1", "n1", "pending", finished=19),
        eps(19.5, [("p1", "n1", "unready"), ("p2", "n2", "ready")]),
        pod(30.2, "p1", "n1", "ready"),
        eps(30.2, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
    ]
    for t in range(2, 41, 2):
        result = "refused" if 20 <= t <= 30 else "connected"
        obs.append(nodeport(t, None if t == 2 else t - 2, "n1", result))
    for t in range(3, 42, 2):
        state = "healthy" if t < 23 or t >= 31 else ("draining" if t == 23 else "absent")
        op = "DELETED" if t == 25 else ("ADDED" if t == 31 else "MODIFIED")
        if state != "absent" or t == 25:
            obs.append(target(t, t - 2, "n1", state, op, check_port=32999))
        obs.append(target(t, t - 2, "n2", "healthy", check_port=32999))
    obs += behind([19.5, 30.2], sync_at)
    return sorted(obs, key=lambda o: o.observed_at)


def windows(obs: list[Observation]) -> list[Window]:
    found = detect(fold(FoldState(), facts_of(obs)), settings=SETTINGS)
    return [w for w in found if w.node == "n1"]


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


def test_a_container_back_behind_rules_that_never_dropped_it_is_no_syncs_turn_on() -> None:
    """kube-proxy ran no sync between p1's restart and its return, so its rules named p1
    throughout and F came back with the container (30.2 s), not with the sync at 31.6 s. Taken
    for the sync's turn-on, F was pinned into the sync (31.55-31.6 s), after the LB's return
    by 31 s: a certain pod-gone-before-deregistered window that never was (random 5,000,486
    node-002 with the histogram's `_sum` on the simulator's page). Where kube-proxy did sync
    at 22 s (it programmed the empty set), only a sync can bring F back: certain, as before."""
    restart, return_ = windows(restarted(None))
    assert restart.certain and _s(restart.start_latest_us) == 20.0
    assert not return_.certain
    assert (_s(return_.start_earliest_us), _s(return_.end_latest_us)) == (29.0, 31.6)
    _, programmed_empty = windows(restarted(22.0))
    assert programmed_empty.certain
    assert _s(programmed_empty.start_latest_us) == 31.0
    assert _s(programmed_empty.end_earliest_us) == 31.549999


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


def pages(times: list[float], syncs: list[tuple[float, float]], queued: float) -> list[Observation]:
    """n1's pages at `times`: each shows the syncs (end, duration) that ended before it."""
    out = []
    for t in times:
        done = [(end, d) for end, d in syncs if end < t]
        out.append(scrape(t, page(done[-1][0], min(queued, t), [d for _, d in done])))
    return out


def handed_over() -> list[Observation]:
    """kube-proxy 1.25 (ProxyTerminatingEndpoints may be on) on n1, whose pod p1 is deleted at
    19.9 s (grace 30 s) and handed over to p3, ready at 25 s; the node-driven LB keeps n1
    healthy. The store lists p1 serving-terminating at 20.45 s; kube-proxy's watch read it
    earlier (within the watch skew): its sync ended at 20.34 s (0.02 s long) and the health
    check answered 503 counting no ready endpoint from 20.5 s, 200 again from 25.3 s (p3,
    synced at 25.2 s)."""
    obs = [
        *two_pods(),
        pod(19.9, "p1", "n1", "terminating", deleted_at=19.9),
        eps(20.45, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
        pod(22, "p3", "n1", "pending"),
        pod(25, "p3", "n1", "ready"),
        eps(25.05, [("p1", "n1", "terminating"), ("p3", "n1", "ready"), ("p2", "n2", "ready")]),
    ]
    times = [19.0, 20.0, 20.5, 21.0, 22.0, 23.0, 24.0, 25.1, 25.3, 26.0, 27.0]
    prevs: list[float | None] = [None, *times]
    for prev, t in zip(prevs, times, strict=False):
        obs.append(health(t, prev, "n1", 1 if t < 20.5 or t > 25.2 else 0))
    for t in range(1, 30, 2):
        obs.append(
            target(t, None if t == 1 else t - 2, "n1", "healthy", "ADDED" if t == 1 else "MODIFIED")
        )
        obs.append(
            target(t, None if t == 1 else t - 2, "n2", "healthy", "ADDED" if t == 1 else "MODIFIED")
        )
    syncs = [(4.0, 0.2), (5.0, 0.1), (20.34, 0.02), (25.2, 0.03)]
    obs += pages([19.5, 20.3, 20.42, 22.0, 24.0, 25.1, 25.22, 27.0], syncs, 25.06)
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_sync_may_have_read_the_slice_before_the_store_did() -> None:
    """The 503 is the sync's that ended at 20.34 s (0.02 s long), 0.11 s before the store
    listed p1 serving-terminating: that sync may have programmed p1 as serving-terminating
    (kube-proxy's watch reads a slice up to the watch skew before the store's), which the gate
    (possibly on, 1.25) keeps forwarding. F read as surely off from 20.36 s to the listing
    made a certain closed-before-deregistered window (random 24,000,278 node-001 without the
    NodePort probes, with the histogram's `_sum` on the simulator's page): F may never have
    turned off, so the window is possible only."""
    found = detect(fold(FoldState(), facts_of(handed_over())), settings=DetectSettings())
    (window,) = [w for w in found if w.node == "n1"]
    assert not window.certain
    assert (_s(window.start_earliest_us), _s(window.end_latest_us)) == (20.319999, 25.22)


def unlooked(sync_at: float | None) -> list[Observation]:
    """`restarted` with no NodePort look from 18 s to 32 s (a look every 14 s there): the
    endpoint's excursion (19.5-30.2 s) is one no look saw."""
    inside = (at(19), at(33))
    obs = [
        o
        for o in restarted(sync_at)
        if not (o.kind == "NodePortProbe" and inside[0] < o.observed_at < inside[1])
    ]
    obs.append(nodeport(32, 18, "n1", "connected"))
    return sorted(obs, key=lambda o: o.observed_at)


def test_an_unseen_excursion_no_sync_can_have_read_ends_at_its_return() -> None:
    """An unseen gap of the excursion is kube-proxy closing on the loss and opening on the
    return, each by a sync. Its sync counts (7 from 6.5 s to 30.5 s, 8 at 32.5 s: one sync, of
    0.05 s by the histogram's `_sum`, ended at 31.6 s) show that it began none between the
    loss reaching it (19.5 s less the 0.5 s watch skew) and the return surely reaching it
    (30.7 s): its rules never dropped p1, and what is left ends when p1 is back (30.2 s), not
    kube-proxy's assumed 60 s lag after the return (90.2 s). Where a sync ran at 22 s (it may
    have read the loss and closed), the assumed lag stands."""
    (_, return_) = windows(unlooked(None))
    assert not return_.certain
    assert (_s(return_.start_earliest_us), _s(return_.end_latest_us)) == (29.0, 30.2)
    (_, synced) = windows(unlooked(22.0))
    assert _s(synced.end_latest_us) == 90.2
