"""An unseen gap may open before the recorder sees the EndpointSlice change behind it (the rule
measured in docs/semantics.md "The sixth spent set read", not adopted: see there).

Random 17,000,013 node-003's shape: kube-proxy 1.24 (no ProxyTerminatingEndpoints), a DaemonSet
rollout, an endpoint-driven CCM polled every 10 s (all healthy), the NodePort probed every 5 s
(all connected). The EndpointSlice that makes the old pod terminating is written at 47.3 s
(managedFields: second 47); kube-proxy's watch delivers it at once and kube-proxy drops the
pod's endpoint at 47.38 s, but the recorder's watch delivers it at 48.12 s, so its lane time is
48.0 s (the end of the write's second, replay.owntime.bounded_at). The replacement is listed
at 49.86 s. No look falls inside: the gap is an unseen excursion, which opened at the lane time
(48.0 s), after the true close: a miss. kube-proxy and the recorder are separate watch clients;
the write lies in its stamp's second, so the gap may open from 47.0 s.

Literal observations: Pod and EndpointSlice objects as the watch returns them (with their
managedFields write times), NodePort probe results, DescribeTargetHealth answers."""

from __future__ import annotations

import math

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from tests.replay.builders import at, eps, looks, node, pod, polled_healthy, service, window_on


def _written(obs: Observation, seconds: float) -> Observation:
    """`obs` carrying the API server's write time (managedFields, whole seconds)."""
    meta = obs.payload["metadata"]
    stamp = at(math.floor(seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta["managedFields"] = [{"manager": "kube-controller-manager", "time": stamp}]
    return obs


def _rollout(written: float, seen: float) -> list[Observation]:
    """n1 on kube-proxy 1.24: p1 ready from the start, terminating at 47.2 s; the slice that
    says so written at `written`, seen at `seen`; p2 ready at 49.4 s, listed at 49.86 s."""
    obs = [
        service(0),
        node(0, "n1", version="v1.24.17"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        _written(pod(47.25, "p1", "n1", "terminating", deleted_at=47), 47.2),
        _written(pod(47.6, "p2", "n1", "pending", revision="bbb"), 47.5),
        _written(eps(seen, [("p1", "n1", "terminating")]), written),
        _written(pod(49.5, "p2", "n1", "ready", revision="bbb"), 49.4),
        _written(eps(49.86, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]), 49.5),
    ]
    obs += polled_healthy("n1", (0, 10, 20, 30, 40, 50, 60, 70), check_port=32999)
    obs += looks("n1", 5, 70, 5)
    return obs


def test_a_gap_unseen_may_open_in_the_slice_writes_second_before_it_was_seen() -> None:
    w = window_on(_rollout(written=47.3, seen=48.12), "n1")
    assert not w.certain
    # kube-proxy closed at 47.38 s, as soon as the change was written
    assert w.start_earliest_us <= to_micros(at(47.38))
    assert w.start_earliest_us >= to_micros(at(47.0))  # not before the write's second


def test_a_write_seen_in_its_own_second_opens_no_earlier_than_that_second() -> None:
    w = window_on(_rollout(written=48.05, seen=48.12), "n1")
    assert w.start_earliest_us >= to_micros(at(48.0))
