"""An unseen gap may open before the recorder sees the EndpointSlice change behind it, but only
in a window found without that (docs/semantics.md, "An unseen gap's earlier start, only in a
window that exists").

Random 17,000,013 node-003's shape: kube-proxy 1.24 (no ProxyTerminatingEndpoints), a DaemonSet
rollout, an endpoint-driven CCM polled every 10 s (all healthy), the NodePort probed every 5 s
(all connected). The EndpointSlice that makes the old pod terminating is written at 47.3 s
(managedFields: second 47); kube-proxy's watch delivers it at once and kube-proxy drops the
pod's endpoint at 47.38 s, but the recorder's watch delivers it at 48.12 s, so its lane time is
48.0 s (the end of the write's second, replay.owntime.bounded_at). The replacement is listed
at 49.86 s. No look falls inside: the gap is an unseen excursion, which opened at the lane time
(48.0 s), after the true close: a miss. kube-proxy and the recorder are separate watch clients;
the write lies in its stamp's second, so the gap may open from 47.0 s.

The control (the shape of the uncertain false windows the rule made when it could open a window
of its own, 1-999's 343 n2 and 11,000,137 n3): the same rollout, the CCM polled every second
and reacting to the same change, its drain seen at the poll at 48.0 s, before the recorder's
lane time (48.12 s, no write times): without the earlier start the LB no longer routes when the
gap can open, so no window; the earlier start alone (from 47.62 s, the LB still routing) would
make one, and must not.

Literal observations: Pod and EndpointSlice objects as the watch returns them (with their
managedFields write times where stamped), NodePort probe results, DescribeTargetHealth answers.
"""

from __future__ import annotations

import math

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect, opened_earlier
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.signals import LO, Iv
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    looks,
    node,
    pod,
    polled_healthy,
    service,
    target,
    window_on,
    windows_of,
)


def _written(obs: Observation, seconds: float | None) -> Observation:
    """`obs` carrying the API server's write time (managedFields, whole seconds); None: as a
    recorder that trims managedFields stores it."""
    if seconds is None:
        return obs
    meta = obs.payload["metadata"]
    stamp = at(math.floor(seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta["managedFields"] = [{"manager": "kube-controller-manager", "time": stamp}]
    return obs


def _rollout(written: float | None, seen: float) -> list[Observation]:
    """n1 on kube-proxy 1.24: p1 ready from the start, terminating at 47.2 s; the slice that
    says so written at `written` (None: not stamped), seen at `seen`; p2 ready at 49.4 s,
    listed at 49.86 s; the NodePort probed every 5 s, all connected."""
    stamped = written is not None
    obs = [
        service(0),
        node(0, "n1", version="v1.24.17"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        _written(pod(47.25, "p1", "n1", "terminating", deleted_at=47), 47.2 if stamped else None),
        _written(pod(47.6, "p2", "n1", "pending", revision="bbb"), 47.5 if stamped else None),
        _written(eps(seen, [("p1", "n1", "terminating")]), written),
        _written(pod(49.5, "p2", "n1", "ready", revision="bbb"), 49.4 if stamped else None),
        _written(
            eps(49.86, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
            49.5 if stamped else None,
        ),
    ]
    return obs + looks("n1", 5, 70, 5)


def test_a_gap_unseen_may_open_in_the_slice_writes_second_before_it_was_seen() -> None:
    obs = _rollout(written=47.3, seen=48.12)
    w = window_on(obs + polled_healthy("n1", range(0, 80, 10), check_port=32999), "n1")
    assert not w.certain
    # kube-proxy closed at 47.38 s, as soon as the change was written
    assert w.start_earliest_us <= to_micros(at(47.38))
    assert w.start_earliest_us >= to_micros(at(47.0))  # not before the write's second


def test_a_write_seen_in_its_own_second_opens_no_earlier_than_that_second() -> None:
    obs = _rollout(written=48.05, seen=48.12)
    w = window_on(obs + polled_healthy("n1", range(0, 80, 10), check_port=32999), "n1")
    assert w.start_earliest_us >= to_micros(at(48.0))


def _drained_at(drained: float) -> list[Observation]:
    """The LB polled every second, healthy until the poll at `drained` saw the target
    draining (the endpoint-driven CCM removed n1 on the same slice change) to the end."""
    out = [target(0, None, "n1", "healthy", "ADDED", check_port=32999)]
    out += [target(t, t - 1, "n1", "healthy", check_port=32999) for t in range(1, int(drained))]
    out.append(target(drained, drained - 1, "n1", "draining", check_port=32999))
    return out


def test_an_earlier_start_alone_opens_no_window() -> None:
    obs = _rollout(written=None, seen=48.12)
    assert [w for w in windows_of(obs + _drained_at(48)) if w.node == "n1"] == []


def test_an_earlier_start_moves_the_window_it_reaches() -> None:
    # the same, the drain seen a poll later: the LB may still have routed at the lane time, so
    # the window exists without the earlier start, which moves its start back by the assumed
    # watch skew (0.5 s: the slices carry no write times)
    w = window_on(_rollout(written=None, seen=48.12) + _drained_at(49), "n1")
    assert w.start_earliest_us == to_micros(at(47.62))


def test_a_refresh_that_brings_the_first_write_time_finds_what_a_rebuild_finds() -> None:
    # the Service's first stamped slice arrives in a later batch, a rewrite of the same
    # endpoints (no lane moves): from then on every change of its slices lies in its write's
    # second, which bounds the earlier start (48.12 s - 1 s, the whole second: 48.0 s, where
    # without write times it was 47.62 s); a refresh keeping n1's windows would keep 47.62
    first = _rollout(written=None, seen=48.12) + _drained_at(49)
    again = _written(eps(75, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]), 74.5)
    facts = facts_of(sorted(first, key=lambda o: o.observed_at))
    state = fold(FoldState(), facts)
    cache: node_cache.Cache = {}
    (svc,) = lb_facing(state)
    (before,) = node_cache.windows(state, svc, DEFAULTS, cache)
    assert before.start_earliest_us == to_micros(at(47.62))
    state = fold(state, derive(len(facts) + 1, again))
    (after,) = node_cache.windows(state, svc, DEFAULTS, cache)
    assert [after] == detect(state, settings=DEFAULTS)
    assert after.start_earliest_us == to_micros(at(48.0))


def test_an_earlier_start_runs_through_touching_stretches_and_not_into_the_window_before() -> None:
    earlier = [Iv(10, 12), Iv(12, 15), Iv(16, 20)]
    assert opened_earlier(20, earlier, LO) == 16  # a break at 15-16: not further
    assert opened_earlier(15, earlier, LO) == 10  # touching stretches: one run
    assert opened_earlier(14, earlier, LO) == 10  # a start inside a stretch
    assert opened_earlier(15, earlier, 11) == 11  # the previous window ended at 11: two stay two
    assert opened_earlier(9, earlier, LO) == 9  # no stretch reaches it
