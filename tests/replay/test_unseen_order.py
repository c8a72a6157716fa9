"""Two reactions to one EndpointSlice change that no look ordered: the class of an unproven
window that kube-proxy's close opened after the endpoints were ready again (docs/semantics.md,
"Classes"). Literal observations: an endpoint-driven CCM (its target group health-checks the
traffic port, not healthCheckNodePort), polled every 5 s, kube-proxy's health check every 1 s."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.lags import lb_drop_lag
from tests.replay.builders import _sample, eps, facts_of, health, node, pod, service


def _target(t: float, prev: float | None, state: str) -> Observation:
    payload: dict[str, Any] = {
        "Target": {"Id": "i-n1", "Port": 32999},
        "HealthCheckPort": "traffic-port",
        "TargetHealth": {"State": state},
        "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1",
    }
    return _sample(t, prev, "TargetHealth", "lb-poller", "n1", payload)


def _serving() -> list[Observation]:
    """One node, kube-proxy 1.25, its one pod ready, routed and answering 200."""
    return [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        _target(2, None, "healthy"),
        health(2, None, "n1", 1),
    ]


def _history(drop_s: float) -> list[Observation]:
    """Five times the node's pod leaves for 30 s: kube-proxy answers 503 within 1 s, the CCM
    deregisters `drop_s` later (the poll that saw it: the next 5 s tick). Then, at 400 s, the
    old pod terminates and a new one is ready 2 s later; kube-proxy closes (503 between 401.5
    and 403 s: maybe before the new one was listed) and opens again by 406 s; no poll sees
    the LB move."""
    obs = _serving()
    for k in range(5):
        t0 = 50.0 + 60 * k
        seen = 5 * (int(t0 + drop_s) // 5 + 1)
        obs += [
            eps(t0, []),
            health(t0 + 1, t0, "n1", 0),
            _target(seen, seen - 5, "draining"),
            eps(t0 + 30, [("p1", "n1", "ready")]),
            health(t0 + 31, t0 + 30, "n1", 1),
            _target(t0 + 35, t0 + 30, "healthy"),
        ]
    obs += [
        pod(400, "p1", "n1", "terminating", deleted_at=400),
        eps(400, [("p1", "n1", "terminating")]),
        pod(402, "p2", "n1", "ready", revision="bbb"),
        eps(402, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        health(401.5, 400.5, "n1", 1),
        health(403, 401.5, "n1", 0),
        health(406, 405, "n1", 1),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _window_class(drop_s: float) -> tuple[int | None, str]:
    state = fold(FoldState(), facts_of(_history(drop_s)))
    (svc,) = lb_facing(state)
    (window,) = [w for w in detect(state) if w.start_earliest_us >= _us(390)]
    assert not window.certain
    return lb_drop_lag(state, svc, DEFAULTS), window.cls


def _us(seconds: float) -> int:
    from tests.replay.builders import at

    return int(at(seconds).timestamp() * 1_000_000)


def test_an_lb_slower_than_the_excursion_kept_routing_while_kube_proxy_closed() -> None:
    # the CCM measurably drops a node ~8 s after its endpoints go: over a 2 s excursion it
    # most likely kept routing, so kube-proxy's close opened the window
    lag, cls = _window_class(8.0)
    assert lag is not None and lag > 5_000_000
    assert cls == "closed-before-deregistered"


def test_without_measured_drops_the_endpoints_ready_again_read_as_registration() -> None:
    # with no deregistration measured (the LB never seen dropping the node) the old reading
    # stays: the endpoints were ready again when kube-proxy closed
    state = fold(FoldState(), facts_of([o for o in _history(8.0) if not _is_drain(o)]))
    (svc,) = lb_facing(state)
    assert lb_drop_lag(state, svc, DEFAULTS) is None
    (window,) = [w for w in detect(state) if w.start_earliest_us >= _us(390)]
    assert window.cls == "registered-before-forwarding"


def _is_drain(o: Observation) -> bool:
    return o.kind == "TargetHealth" and o.payload["TargetHealth"]["State"] != "healthy"


def test_a_window_holding_a_seen_drain_is_classed_where_the_lb_takes_the_node_back() -> None:
    # The old pod terminates at 311 s and a new one is ready at 314.6 s; kube-proxy closes
    # (503 between 312 and 313 s) and opens again by 316 s; the 5 s poll sees the node
    # draining at 315 s and healthy at 320 s. The LB surely dropped the node and took it back
    # inside the window: the gap that needs nothing unseen is the LB registering the node
    # before kube-proxy opened, not kube-proxy closing (the longer piece, before the drain).
    obs = [
        *_serving(),
        pod(311, "p1", "n1", "terminating", deleted_at=311),
        eps(311, [("p1", "n1", "terminating")]),
        health(313, 312, "n1", 0),
        pod(314.6, "p2", "n1", "ready", revision="bbb"),
        eps(314.6, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        _target(315, 310, "draining"),
        health(316, 315, "n1", 1),
        _target(320, 315, "healthy"),
    ]
    (window,) = detect(fold(FoldState(), facts_of(obs)))
    assert not window.certain and window.cls == "registered-before-forwarding"


def test_the_node_cache_classes_with_the_measured_drop_lag_as_detect_does() -> None:
    """The stored windows (projections and refresh detect through replay.node_cache) must be
    the windows `detect` gives: the drop-lag rule included, with and without a cache."""
    state = fold(FoldState(), facts_of(_history(8.0)))
    (svc,) = lb_facing(state)
    expected = detect(state)
    assert any(w.cls == "closed-before-deregistered" for w in expected)
    assert node_cache.windows(state, svc, DEFAULTS) == expected
    assert node_cache.windows(state, svc, DEFAULTS, {}) == expected
