"""kube-proxy's sync metrics and CloudTrail's calls ordering a kube-proxy change against an LB
change that fell between the same looks (replay/syncorder.py, replay/callorder.py).

The story: a new pod on n1 turns ready at 20 s; kube-proxy programs it at 20.6 s (its NodePort
starts to connect); the CCM registers n1 at 22.3 s and the target is healthy at once (an
endpoint-driven LB). No window: n1 forwarded before the LB routed to it. The NodePort probe (every
2 s) sees the turn-on in (20, 22]; the samples alone allow the LB first. Literal observations:
NodePort probes and ELBv2 TargetHealth as the prober and poller store them, kube-proxy /metrics
scrapes as the prober stores them (Unix seconds, kube-proxy's clock), CloudTrail records through
the real importer."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import CLUSTER, at, eps, facts_of, nodeport, pod, service, target
from tests.replay.builders import node as node_obj
from tests.replay.test_membership import trail

SETTINGS = DetectSettings(ccm_mode="endpoint")
LAST = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"


def scrape(t: float, synced: float, queued: float, latency_ms: float = 4.0) -> Observation:
    """One look at n1's kube-proxy /metrics, written at `t` and received `latency_ms` later."""
    metrics = {LAST: at(synced).timestamp(), QUEUED: at(queued).timestamp()}
    payload: dict[str, Any] = {"port": 10249, "address": "10.0.0.11", "latency_ms": latency_ms,
                               "status": 200, "error": None, "metrics": metrics,
                               "derived": None, "look": "sample"}  # fmt: skip
    return Observation(at(t + latency_ms / 1000), CLUSTER, "kube-proxy-probe", "ProxyMetrics",
                       "OBSERVED", payload, node="n1")  # fmt: skip


def history(poll_looks: tuple[float, float], *, metrics: bool, calls: bool) -> list[Observation]:
    before, seen = poll_looks
    obs = [
        service(0),
        node_obj(0, "n1"),
        node_obj(0, "n2"),
        pod(0, "p2", "n2", "ready"),
        eps(0, [("p2", "n2", "ready")]),
        nodeport(0, None, "n1", "timeout"),
        nodeport(0, None, "n2", "connected"),
        target(0, None, "n2", "healthy", op="ADDED"),
        pod(20, "p1", "n1", "ready"),
        eps(20, [("p2", "n2", "ready"), ("p1", "n1", "ready")]),
        nodeport(22, 20, "n1", "connected"),  # kube-proxy programmed p1 at 20.6 s
        target(seen, before, "n1", "healthy", op="ADDED"),  # registered at 22.3 s
    ]
    if metrics:  # on the probe's grid: the last sync was at 1 s, then 20.6 s
        obs += [scrape(18, 1.0, 1.0), scrape(20, 1.0, 20.1), scrape(22, 20.6, 20.1)]
    if calls:
        obs.append(trail(22, "RegisterTargets", "i-n1"))
    return sorted(obs, key=lambda o: o.observed_at)


def windows(obs: list[Observation]) -> list[Window]:
    found = detect(fold(FoldState(), facts_of(obs)), settings=SETTINGS)
    return [w for w in found if w.node == "n1"]


def test_a_sync_before_the_lb_poll_orders_kube_proxy_first() -> None:
    """The poller saw n1 absent at 21 s and healthy at 23 s: with the probe alone kube-proxy
    may have opened as late as 22 s, after the LB; the scrape at 22 s shows the sync that
    programmed p1 ended at 20.6 s (the one at 20 s had none since 1 s)."""
    (alone,) = windows(history((21, 23), metrics=False, calls=False))
    assert not alone.certain and alone.cls == "registered-before-forwarding"
    assert windows(history((21, 23), metrics=True, calls=False)) == []


def test_a_scrape_counts_from_when_its_page_was_written() -> None:
    """A "not yet" look holds at the earliest the page can have been written: received at
    20.004 s after 4 ms, it says nothing synced since 1 s as of 20 s, not 20.004 s."""
    (fact,) = facts_of([scrape(20, 1.0, 1.0)])
    assert fact.at_us == int(at(20).timestamp() * 1_000_000)


def test_a_registered_target_turning_healthy_is_not_moved_by_the_call() -> None:
    """A target the poller saw `initial` before it turned healthy was registered already: its
    health checks turned it on, which the call does not time."""
    obs = [o for o in history((18, 24), metrics=False, calls=True) if o.kind != "TargetHealth"
           or o.node != "n1"]  # fmt: skip
    obs += [target(18, 16, "n1", "initial", op="ADDED"), target(24, 18, "n1", "healthy")]
    (window,) = windows(sorted(obs, key=lambda o: o.observed_at))
    assert window.start_earliest_us == int(at(18).timestamp() * 1_000_000)


def test_a_sync_that_is_not_new_orders_nothing() -> None:
    """A turn-on with no newer sync in the look after it (F came back without kube-proxy):
    the probe's bounds stay."""
    obs = [o for o in history((21, 23), metrics=False, calls=False)]
    obs += [scrape(20, 1.0, 1.0), scrape(22, 1.0, 1.0)]
    (window,) = windows(sorted(obs, key=lambda o: o.observed_at))
    assert window.end_latest_us > window.start_earliest_us


def test_the_register_call_orders_the_lb_after_kube_proxy() -> None:
    """The poller looks every 6 s: absent at 18 s, healthy at 24 s. CloudTrail's
    RegisterTargets at 22 s (eventTime, whole seconds, +-1 s: the call was at 21 s at the
    earliest) bounds the LB's turn-on below: the window narrows from (18, 22] to (21, 22]
    (kube-proxy forwarded by the probe at 22 s); with the sync metrics too (by 20.6 s), none."""
    (alone,) = windows(history((18, 24), metrics=False, calls=False))
    (narrowed,) = windows(history((18, 24), metrics=False, calls=True))
    assert alone.start_earliest_us < narrowed.start_earliest_us
    assert narrowed.start_earliest_us >= int(at(21).timestamp() * 1_000_000)
    assert windows(history((18, 24), metrics=True, calls=True)) == []
    assert windows(history((18, 24), metrics=True, calls=False)) != []
