"""A pod may have died before the lane time of the last update that saw it up: that lane time
is the update's write's latest instant (replay.owntime `bounded_at`: the end of its stamp's
second, or the observation), so the death lies after the write's earliest instant, a stamp's
second before it (`written_from`), not after the lane time (session 35). From literal
observations (tests/replay/builders.py shapes; the kubelet's status write carries its
`metadata.managedFields` entry, whole seconds, as the API server sets it)."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.deaths import local_runs
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.unseen import death_ranges, death_spans, reported_stops
from tests.replay import builders as b
from tests.replay.test_restart_between_writes import pod as restart_pod


def _us(seconds: float) -> int:
    return to_micros(b.at(seconds))


def _stamped(obs: Observation, second: int) -> Observation:
    """`obs` as the API server stored it: the kubelet's status write stamped in `second`."""
    entry = {"manager": "kubelet", "operation": "Update", "subresource": "status"}
    entry["time"] = b.at(second).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = dict(obs.payload["metadata"], managedFields=[entry])
    return replace(obs, payload={**obs.payload, "metadata": meta})


def _rollout() -> list[Observation]:
    """kube-proxy 1.29, NodePort probed every 5 s (2, 7, ...). p1 is marked for deletion at
    100 s; its kubelet writes a status that still sees it up (terminating) in second 104,
    which the watch delivers at 104.9 s; p1 dies at 104.4 s (finishedAt 104 s), the Pod update
    that says so comes at 106 s. Its replacement p2 turns Ready at 104.8 s and the slice lists
    it at 105.1 s, after the death: kube-proxy on n1 had only the dead p1 from its death."""
    obs = [
        b.service(0),
        b.node(0, "n1"),
        b.pod(1, "p1", "n1", "ready"),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        b.pod(100, "p1", "n1", "terminating", deleted_at=100),
        _stamped(b.pod(104.9, "p1", "n1", "terminating", deleted_at=100), 104),
        b.pod(104.8, "p2", "n1", "ready"),
        b.eps(105.1, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(106, "p1", "n1", "gone", deleted_at=100, finished=104.4),
        b.eps(106.3, [("p2", "n1", "ready")]),
        *b.looks("n1", 2, 120, 5),
        b.target(120, 115, "n1", "healthy"),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _state() -> tuple[FoldState, ServiceRef]:
    state = fold(FoldState(), b.facts_of(_rollout()))
    (svc,) = {k[0] for k in state.slice_ready}
    return state, svc


def test_the_last_up_update_lane_time_is_its_write_latest_instant() -> None:
    state, svc = _state()
    (run,) = [r for r in local_runs(state, svc, "n1") if r.pod == "p1"]
    assert run.last_up_us == _us(104.9)  # min(observed 104.9 s, stamp 104 s + 1 s)
    assert run.up_written_us == _us(103.9)  # its write's earliest instant


def test_the_death_range_and_span_reach_before_the_last_up_update_lane_time() -> None:
    # the death (104.4 s) lies in finishedAt's [103 s, 106 s): before the last up update's
    # lane time (104.9 s), after its write's earliest instant (103.9 s)
    state, svc = _state()
    clock = seconds_us(DetectSettings().node_clock_s)
    status = seconds_us(DetectSettings().pod_status_s)
    assert death_ranges(state, svc, "n1", clock) == [(_us(103.9), _us(106))]
    assert death_ranges(state, svc, "n1") == [(_us(103.9), _us(106))]
    assert death_spans(state, svc, "n1", clock, status) == [(_us(103.9), _us(106))]


def test_the_gap_from_a_death_before_the_last_up_update_was_seen_opens_by_the_death() -> None:
    # deaths.unprogrammed: a possible gap from the death until p2 was programmed; its earliest
    # start is the death's earliest instant, which must not lie after the death (104.4 s)
    windows = detect(fold(FoldState(), b.facts_of(_rollout())))
    assert windows
    assert min(w.start_earliest_us for w in windows) <= _us(104.4)


def _restarted() -> list[Observation]:
    """test_restart_between_writes's real Pod, without any probe: p1's kubelet writes a status
    that sees it Ready in second 49, delivered at 49.9 s; the container crashed at 49.5 s
    (finishedAt 49 s) and a new one ran from 61 s, reported at 62 s (restartCount 1)."""
    obs = [
        b.service(0),
        b.node(0, "n1"),
        restart_pod(1),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        _stamped(restart_pod(49.9), 49),
        restart_pod(62, restart=(49.5, 61)),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_restart_between_writes_may_have_stopped_before_the_last_up_update_was_seen() -> None:
    # unseen.reported_stops (every death range and span) and unseen.pod_serves' `_restarts`
    # (F inferred from the pods): the crash at 49.5 s lies before the lane time of the update
    # before (49.9 s), after its write's earliest instant (48.9 s)
    obs = _restarted()
    state = fold(FoldState(), b.facts_of(obs))
    svc = ServiceRef(b.CLUSTER, b.NS, b.SVC)
    (stop,) = reported_stops(state, svc, "n1")
    assert stop == (_us(48.9), _us(62), _us(49))
    (window,) = b.windows_of(obs)
    assert window.start_earliest_us <= _us(49.5)
