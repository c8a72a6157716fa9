"""A readiness loss is not a death: a Pod whose kubelet reports its container `running` while
marking it not ready (a readiness probe failing) is up and not forwarded to (replay.podstate).

The Pod is a real one (tests/fixtures/k8s/k9s-pod-sidecar-kind.json: kind, containerd, one
container without ports and a restartable init container), renamed onto the Service's node;
each update changes only what the kubelet (or, for a NotReady node, the node lifecycle
controller) writes, as the API reference's Pod and ContainerStatus describe them: a container's
`state` is exactly one of running / waiting / terminated; a failing readiness probe sets the
container's `ready` false and the Pod's ContainersReady and Ready conditions False, the state
staying `running`; a crash shows `waiting` (CrashLoopBackOff) with `lastState.terminated`; the
node lifecycle controller's MarkPodsNotReady sets the Ready condition alone, the statuses left
as the kubelet last wrote them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.context import alive_steps
from gapwatch.replay.deaths import local_runs
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.podsup import pods_up
from gapwatch.replay.segments import lane_segments
from gapwatch.replay.signals import HI
from gapwatch.replay.unseen import pod_deaths, reported_stops
from tests.replay.builders import (
    CLUSTER,
    NS,
    SVC,
    _k8s,
    at,
    eps,
    facts_of,
    health,
    node,
    service,
    target,
    windows_of,
)

KIND_POD = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "k8s" / "k9s-pod-sidecar-kind.json").read_text()
)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
CBD, PGBD = "closed-before-deregistered", "pod-gone-before-deregistered"


def _conditions(payload: dict[str, Any], **status: str) -> None:
    for c in payload["status"]["conditions"]:
        if c["type"] in status:
            c["status"] = status[c["type"]]


def kind_pod(t: float, how: str, crashed: float | None = None, name: str = "p1") -> Observation:
    """The real Pod on node n1 at `t`: `ready` (as dumped), `unready` (the kubelet's readiness
    loss), `marked` (the node lifecycle controller's Ready False), `crashed` (CrashLoopBackOff
    after a stop at `crashed`); `crashed` with any other: the container restarted after a stop
    then (restartCount 1, lastState.terminated)."""
    payload = copy.deepcopy(KIND_POD)
    payload["metadata"].update(name=name, namespace=NS)
    payload["spec"]["nodeName"] = "n1"
    status = payload["status"]["containerStatuses"][0]
    if crashed is not None:
        status["restartCount"] = 1
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": at(0).strftime(_STAMP),
                "finishedAt": at(crashed).strftime(_STAMP),
            }
        }
    if how in ("unready", "crashed"):
        _conditions(payload, Ready="False", ContainersReady="False")
        status["ready"] = False
    if how == "crashed":
        status["started"] = False
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    if how == "marked":
        _conditions(payload, Ready="False")
    return _k8s(t, "Pod", "MODIFIED", payload, node="n1")


def _not_ready_slice(t: float) -> Observation:
    """The EndpointSlice controller keeps a not-ready pod listed, ready and serving false."""
    obs = eps(t, [("p1", "n1", "ready")])
    payload = copy.deepcopy(dict(obs.payload))
    payload["endpoints"][0]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    return _k8s(t, "EndpointSlice", "MODIFIED", payload)


def _states(observations: list[Observation]) -> list[str | None]:
    return [f.state for i, o in enumerate(observations, 1) for f in derive(i, o)]


def test_the_pod_fact_says_unready_only_where_the_kubelet_reports_it_running(
    engine: Engine,
) -> None:
    """Through the writer into the store (SQLite and PostgreSQL). Before: `pending` for every
    not-ready update, the readiness loss read as a stop."""
    updates = [
        kind_pod(1, "ready"),
        kind_pod(2, "unready"),
        kind_pod(3, "marked"),
        kind_pod(4, "crashed", crashed=4),
        kind_pod(5, "unready", crashed=4),
        kind_pod(6, "ready", crashed=4),
    ]
    EventWriter(engine, derive=write_facts).write_all(updates)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT state FROM facts WHERE fact = 'pod' ORDER BY event_id")
        ).all()
    assert [r[0] for r in rows] == ["ready", "unready", "pending", "pending", "unready", "ready"]


def test_every_container_and_native_sidecar_must_run() -> None:
    """The Pod does not say which container serves (a numeric targetPort needs no declared
    port), so every container counts, and the restartable init container (`sidecar` in the
    real Pod, a native sidecar such as an injected Istio proxy): a second container crashed
    beside the running `sleep`, or the native sidecar crashed, is a stop as before; both
    running with `sleep` not ready is a readiness loss."""

    def with_second(second: dict[str, Any], sidecar: dict[str, Any]) -> Observation:
        obs = kind_pod(1, "unready")
        payload = copy.deepcopy(dict(obs.payload))
        spec = dict(payload["spec"]["containers"][0], name="gateway")
        spec["ports"] = [{"containerPort": 8080, "protocol": "TCP"}]
        payload["spec"]["containers"].append(spec)
        status = payload["status"]
        first = status["containerStatuses"][0]
        status["containerStatuses"].append(dict(first, name="gateway", **second))
        status["initContainerStatuses"][1].update(sidecar)
        return _k8s(1, "Pod", "MODIFIED", payload, node="n1")

    crash = {"ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    runs: dict[str, Any] = {"ready": True}
    assert _states(
        [with_second(runs, runs), with_second(crash, runs), with_second(runs, crash)]
    ) == ["unready", "pending", "pending"]


def _readiness_loss() -> list[Observation]:
    """Seed 5,000,620's shape: p1, the only pod on n1, crashed at 50 s and was restarted; the
    kubelet wrote it ready again at 60 s (restartCount 1, lastState.terminated.finishedAt
    50 s), then at 100 s not ready with its container still running (a readiness probe
    failing). The slice lists it not ready at 100.3 s, kube-proxy's health check answers 503
    from 101 s and the LB marks the target unhealthy at 130 s: kube-proxy closed before the LB
    deregistered, the pod alive throughout."""
    obs = [
        service(0),
        node(0, "n1"),
        kind_pod(1, "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        kind_pod(60, "ready", crashed=50),
        kind_pod(100, "unready", crashed=50),
        _not_ready_slice(100.3),
        target(130, 125, "n1", "unhealthy"),
    ]
    prev = None
    for t in range(2, 141, 3):
        obs.append(health(t, prev, "n1", 1 if t < 101 else 0))
        prev = t
    return sorted(obs, key=lambda o: o.observed_at)


def _classes(windows: list[Window]) -> list[tuple[str, str]]:
    return [(w.node, w.cls) for w in windows]


def test_a_readiness_loss_reads_as_a_close_not_a_death() -> None:
    """Before: the not-ready update read as p1's death (its finishedAt the earlier crash's,
    before the update that last saw it up), the window a pod-gone-before-deregistered one."""
    windows = windows_of(_readiness_loss())
    assert _classes(windows) == [("n1", CBD)]


def test_every_reader_of_the_pod_lane_keeps_the_pod_alive() -> None:
    """The lane reads the update `unready`; the local pods stay alive (context.alive_steps),
    p1 has one run that never stops (replay.deaths), no death or stop is listed
    (replay.unseen) and the pods-up lane's F stays possible to the end (replay.podsup).
    Before: alive until 100 s, a run stopped there, a death at 100 s."""
    state = fold(FoldState(), facts_of(_readiness_loss()))
    svc = ServiceRef(CLUSTER, NS, SVC)
    assert [p.state for p in state.pods[(CLUSTER, NS, "p1")]] == ["ready", "ready", "unready"]
    assert [s.value for s in alive_steps(state, svc, "n1")] == [True]
    assert [(r.pod, r.down_us) for r in local_runs(state, svc, "n1")] == [("p1", HI)]
    assert pod_deaths(state, svc, "n1") == []
    assert reported_stops(state, svc, "n1") == []
    up = pods_up(state, svc, "n1", skew_us=0, clock_us=0, status_us=0, program_us=0, lag_us=0)
    assert up is not None and [iv.end for iv in up.possible] == [HI]


def test_a_crash_shown_only_by_a_newer_finished_at_is_still_a_death() -> None:
    """The kubelet wrote nothing between the stop and the restart: the not-ready update's
    finishedAt (95 s) is newer than any the pod reported before, so the container stopped in
    between (the restart count rose): a death, as before."""
    obs = [o for o in _readiness_loss() if o.kind != "Pod" or o.observed_at != at(100)]
    obs.append(kind_pod(100, "unready", crashed=95))
    windows = windows_of(obs)
    assert _classes(windows) == [("n1", PGBD)]


def test_old_facts_read_as_before_until_rederived(engine: Engine) -> None:
    """A store written before `unready` (its facts say `pending` for the readiness loss) reads
    as it did; `gapwatch replay --rebuild --rederive` derives the new state from the stored
    events. Before: the rederived store read the death as well."""
    EventWriter(engine, derive=write_facts).write_all(_readiness_loss())
    with engine.begin() as conn:
        changed = conn.execute(
            text("UPDATE facts SET state = 'pending' WHERE fact = 'pod' AND state = 'unready'")
        ).rowcount
    assert changed == 1
    projections.rebuild(engine)
    assert _classes(api.windows(engine)) == [("n1", PGBD)]
    projections.rebuild(engine, rederive=True)
    assert _classes(api.windows(engine)) == [("n1", CBD)]


def test_the_timeline_shows_a_readiness_loss_as_unready_not_gone() -> None:
    """The pod lane of the segments (the dashboard's timeline, `replay_segments`): after the
    not-ready update p1 is `unready` to the end. Before: `gone` from 100 s, as if the pod had
    died, beside windows that say it did not."""
    state = fold(FoldState(), facts_of(_readiness_loss()))
    svc = ServiceRef(CLUSTER, NS, SVC)
    pod_lane = [(s.state, s.start_us) for s in lane_segments(state, svc, ["n1"]) if s.lane == "pod"]
    assert pod_lane[-1] == ("unready", to_micros(at(100)))
    assert "gone" not in [state for state, _start in pod_lane]
