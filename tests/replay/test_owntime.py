"""Objects' own times bound when a change happened (replay/owntime.py): a watch that delivers
the same history 40 s late (the lab's watch-stall) gives the same windows, to the stamps'
1 s resolution.

Built from literal objects in the shapes the API returns: EndpointSlices whose
`metadata.managedFields` name kube-controller-manager's write (`operation: Update`, `time` in
whole seconds), Pods written by the kubelet (`subresource: status`) and made terminating by a
DELETE (`deletionTimestamp` = the request + `deletionGracePeriodSeconds`, no managedFields
change), health-check-node-port answers and ELBv2 target states as the prober and the poller
see them, on time: only the watch is late.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from gapwatch.replay.owntime import bounded_at, write_stamp_us
from tests.replay.builders import at, eps, facts_of, health, node, pod, service, target

S = 1_000_000


def _stamp(t: float) -> str:
    """A Kubernetes timestamp: whole seconds, truncated."""
    return (at(0) + timedelta(seconds=int(t))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _managed(manager: str, t: float, subresource: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "time": _stamp(t),
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {}} if subresource else {"f:metadata": {}},
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _written(obs: Observation, fields: list[dict[str, Any]]) -> Observation:
    meta = dict(obs.payload["metadata"], managedFields=fields, creationTimestamp=_stamp(0))
    return replace(obs, payload={**obs.payload, "metadata": meta})


def _late(obs: Observation, true_s: float, delay_s: float) -> Observation:
    return replace(obs, observed_at=at(true_s + delay_s))


def test_the_newest_managed_fields_time_is_the_write() -> None:
    slice_ = _written(eps(0, [("p1", "n1", "ready")]), [_managed("kube-controller-manager", 41.7)])
    assert write_stamp_us(slice_.op, slice_.payload) == round((at(41).timestamp()) * S)
    # a DELETE sets deletionTimestamp = request + grace and touches no managedFields entry
    terminating = _written(
        pod(0, "p1", "n1", "terminating", deleted_at=100 + 30, grace=30),
        [_managed("kubelet", 12, "status")],
    )
    assert write_stamp_us("MODIFIED", terminating.payload) == round(at(100).timestamp() * S)
    # no managedFields (a trimmed store, a kubectl capture) or the removal itself: unknown
    assert write_stamp_us("MODIFIED", eps(0, [("p1", "n1", "ready")]).payload) is None
    assert write_stamp_us("DELETED", slice_.payload) is None
    # the change lies before the end of its stamp's second, and never after it was seen
    assert bounded_at(90 * S, 41 * S) == 42 * S
    assert bounded_at(41 * S + 300_000, 41 * S) == 41 * S + 300_000


def _two_nodes() -> list[Observation]:
    """The recording's start: n1 serves (ready pod, healthy target), n2 has nothing yet."""
    return [
        service(0),
        node(0, "n1", version="v1.25.0"),
        node(0, "n2", version="v1.25.0"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "unused", "ADDED"),
    ]


def _history(delay_s: float, stamped: bool, probes: bool) -> list[Observation]:
    """n1 loses its pod at 100.4 s (kube-proxy closes; the LB drains it at 111 s); n2 gets a
    new pod ready at 200.6 s that the LB registers at 201.5 s before kube-proxy opens at 204 s.
    The Kubernetes changes are delivered `delay_s` late; probes and polls are on time."""

    def k8s(obs: Observation, true_s: float, manager: str, sub: str | None = None) -> Observation:
        obs = _late(obs, true_s, delay_s)
        return _written(obs, [_managed(manager, true_s, sub)]) if stamped else obs

    kcm = "kube-controller-manager"
    out = [
        *_two_nodes(),
        k8s(pod(0, "p1", "n1", "terminating", deleted_at=100.4 + 30, grace=30), 100.4, kcm),
        k8s(eps(0, [("p1", "n1", "terminating")]), 100.9, kcm),
        k8s(pod(0, "p2", "n2", "ready"), 200.2, "kubelet", "status"),
        k8s(eps(0, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]), 200.6, kcm),
        target(111, 110, "n1", "draining"),
        target(201.5, 200.5, "n2", "healthy"),
    ]
    if stamped:  # the DELETE is stamped by deletionTimestamp, not by its managedFields
        terminating = out[7]
        meta = dict(terminating.payload["metadata"])
        meta["managedFields"] = [_managed("kubelet", 5, "status")]
        out[7] = replace(terminating, payload={**terminating.payload, "metadata": meta})
    if probes:
        for t in range(2, 260):
            n1_ok = t <= 101
            n2_ok = t >= 204
            out.append(health(float(t), float(t - 1), "n1", 1 if n1_ok else 0))
            out.append(health(float(t), float(t - 1), "n2", 1 if n2_ok else 0))
    return sorted(out, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def _shape(windows: list[Window]) -> list[tuple[str, str, float, float]]:
    return [(w.node, w.cls, w.start_us / S, w.end_us / S) for w in windows]


def _same_within(a: list[Window], b: list[Window], tolerance_s: float) -> bool:
    if [(w.node, w.cls, w.certain) for w in a] != [(w.node, w.cls, w.certain) for w in b]:
        return False
    edges = (
        "start_earliest_us", "start_latest_us", "end_earliest_us", "end_latest_us",
    )  # fmt: skip
    return all(
        abs(getattr(x, e) - getattr(y, e)) <= tolerance_s * S
        for x, y in zip(a, b, strict=True)
        for e in edges
    )


def test_a_watch_forty_seconds_late_gives_the_same_windows_with_stamps() -> None:
    on_time = _windows(_history(0.2, stamped=True, probes=True))
    stalled = _windows(_history(40.0, stamped=True, probes=True))
    classes = [(w.node, w.cls) for w in on_time]
    assert classes == [
        ("n1", "closed-before-deregistered"),
        ("n2", "registered-before-forwarding"),
    ], _shape(on_time)
    assert _same_within(on_time, stalled, 1.0), (_shape(on_time), _shape(stalled))


def test_without_stamps_the_same_delay_moves_the_causes() -> None:
    """The test above can fail: without managedFields the late watch misplaces the
    EndpointSlice changes and both windows get the other cause."""
    on_time = _windows(_history(0.2, stamped=False, probes=True))
    stalled = _windows(_history(40.0, stamped=False, probes=True))
    assert [w.cls for w in on_time] == [
        "closed-before-deregistered",
        "registered-before-forwarding",
    ]
    assert not _same_within(on_time, stalled, 1.0)


def test_inferred_kube_proxy_side_follows_the_stamps_not_the_late_watch() -> None:
    """Without probes F is inferred from the endpoints and pods: their times are the stamps'."""
    on_time = _windows(_history(0.2, stamped=True, probes=False))
    stalled = _windows(_history(40.0, stamped=True, probes=False))
    assert on_time, "the LB drains n1 11 s after its pod went: a window"
    assert _same_within(on_time, stalled, 1.0), (_shape(on_time), _shape(stalled))
    unstamped = _windows(_history(40.0, stamped=False, probes=False))
    assert not _same_within(on_time, unstamped, 1.0)


def _registered_first(delay_s: float) -> list[Observation]:
    """A new pod on n2: its EndpointSlice change is written at 200.1 s (stamp 200 s) and the
    watch delivers each change `delay_s` late; an endpoint-driven LB registers n2 at 200.3 s
    (polled healthy at 200.4 s); kube-proxy opens at 203.5 s: registered-before-forwarding.
    Five earlier stamped changes (n1's pod flapping) give the watch skew its samples."""
    kcm = "kube-controller-manager"

    def k8s(obs: Observation, true_s: float, manager: str = kcm) -> Observation:
        return _written(_late(obs, true_s, delay_s), [_managed(manager, true_s)])

    out = _two_nodes()
    for i, t in enumerate(range(20, 120, 20)):  # n1's pod readiness flaps (stamped writes)
        state = "terminating" if i % 2 == 0 else "ready"
        out.append(k8s(eps(0, [("p1", "n1", state)]), t + 0.5))
    out += [
        k8s(pod(0, "p2", "n2", "ready"), 199.9, "kubelet"),
        k8s(eps(0, [("p1", "n1", "ready"), ("p2", "n2", "ready")]), 200.1),
        target(200.4, 199.4, "n2", "healthy"),
    ]
    for t in range(2, 260):
        out.append(health(float(t), float(t - 1), "n1", 1))
        out.append(health(t + 0.5, t - 0.5, "n2", 1 if t >= 203 else 0))
    return sorted(out, key=lambda o: o.observed_at)


def test_the_measured_watch_skew_replaces_the_assumed_one_in_detection() -> None:
    from gapwatch.replay.assumptions import DEFAULTS
    from gapwatch.replay.measure import watch_skew
    from gapwatch.replay.model import ServiceRef
    from tests.replay.builders import CLUSTER, NS, SVC

    svc = ServiceRef(CLUSTER, NS, SVC)
    state = fold(FoldState(), facts_of(_registered_first(2.0)))
    skew = watch_skew(state, svc, DEFAULTS)
    # each lane time lies at most its stamp's second after the change, however late the
    # watch: 2 s late, the lane is 0.9 s after the slice change
    assert skew.measured and skew.samples >= DEFAULTS.min_measurements
    assert skew.value is not None and 0.5 < skew.value <= 1.0
    # what the watch delay itself was: observed minus the stamp (whole seconds): 2-3 s
    assert "delivered up to 2.9 s after them" in skew.source
    n2 = [w for w in detect(state, settings=DEFAULTS) if w.node == "n2"]
    assert [w.cls for w in n2] == ["registered-before-forwarding"]
    # the assumed 0.5 s (too few samples to measure) looks too short a way ahead: the
    # EndpointSlice change that opened it seems to follow the LB's registration
    few = replace(DEFAULTS, min_measurements=1000)
    assert not watch_skew(state, svc, few).measured
    n2_assumed = [w for w in detect(state, settings=few) if w.node == "n2"]
    assert [w.cls for w in n2_assumed] == ["closed-before-deregistered"]


def test_a_recorder_clock_behind_the_api_server_keeps_the_assumed_skew() -> None:
    """Changes observed before their own stamps: the clocks disagree, the stamps bound
    nothing about the recorder's time; the assumption stays, and says why."""
    from gapwatch.replay.assumptions import DEFAULTS
    from gapwatch.replay.measure import watch_skew
    from gapwatch.replay.model import ServiceRef
    from tests.replay.builders import CLUSTER, NS, SVC

    state = fold(FoldState(), facts_of(_registered_first(-2.0)))
    skew = watch_skew(state, ServiceRef(CLUSTER, NS, SVC), DEFAULTS)
    assert not skew.measured and skew.value == DEFAULTS.watch_skew_s
    assert skew.negative > 0 and "before their own stamps" in skew.source
