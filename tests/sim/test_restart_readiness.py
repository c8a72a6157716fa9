"""A crash whose status write lands after the restart (a status lag longer than the back-off
and the start): the simulated kubelet writes what a real one sees at each write. A restarted
container is reported not ready until its own readiness probe passed (the kubelet's prober
keeps a result per container, a new one starts without a success), and once it was reported
ready it is not marked not ready again by the crash it replaced (nothing in the simulator fails
a readiness probe of a running container). Before: the restart's write carried the old
container's ready (True: a crashed pod read as never stopped) and the late crash write marked
the new, probed container not ready for good (seeds 5,000,620 and 5,000,918 of the development
set: a running pod not ready until its deletion)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run

_CRASHES = [
    {"at_s": t, "action": "crash_pod", "workload": "ingress", "node": "NODE1"}
    for t in range(60, 600, 60)
]
#: a 1 s back-off and a short start: a crash's status write often lands after the restart
_FAST_RESTART = {
    "ingress.pod.restart_backoff_s": 1.0,
    "ingress.pod.start_s": {"p50": 0.2, "p90": 0.4, "max": 1.0},
}


def _container(o: Observation) -> dict[str, Any]:
    (status,) = o.payload["status"].get("containerStatuses") or [{}]
    return dict(status)


def _pairs(overrides: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each pair of consecutive writes of a pod on NODE1, over five seeds."""
    scenario = load_scenario("seed-3node", {**_FAST_RESTART, **overrides, "events": _CRASHES})
    out = []
    for seed in range(1, 6):
        writes: dict[str, list[dict[str, Any]]] = {}
        for o in run(scenario, seed).observations:
            if o.kind == "Pod" and o.op == "MODIFIED" and o.node == "NODE1":
                writes.setdefault(str(o.name), []).append(_container(o))
        out += [p for w in writes.values() for p in pairwise(w)]
    return out


def _restarted(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return int(after.get("restartCount", 0)) > int(before.get("restartCount", 0))


def _running(status: dict[str, Any]) -> bool:
    return "running" in (status.get("state") or {})


def test_a_restarted_container_is_not_ready_before_its_own_probe() -> None:
    """Every write lands within 5 s, the restarted container's probe passes after 20 s: the
    write that first shows it running says not ready, also where the crash's own write never
    landed before it (the write before still said ready)."""
    slow_probe = {
        "kubelet.status_lag_s": {"p50": 1.5, "p90": 4.0, "max": 5.0},
        "ingress.pod.readiness_delay_s": {"p50": 20.0, "p90": 22.0, "max": 25.0},
    }
    late = [
        after
        for before, after in _pairs(slow_probe)
        if _restarted(before, after) and _running(after) and before.get("ready")
    ]
    assert late, "some crash's status write came after the restart"
    assert [after["ready"] for after in late] == [False] * len(late)


def test_a_probed_container_is_not_marked_not_ready_by_the_crash_before_it() -> None:
    """The probe passes within 2 s, a status write can take 10 s: a crash's write landing
    after the new container was reported ready leaves it ready."""
    late_writes = {
        "kubelet.status_lag_s": {"p50": 2.0, "p90": 8.0, "max": 10.0},
        "ingress.pod.readiness_delay_s": {"p50": 0.5, "p90": 1.0, "max": 2.0},
    }
    pairs = [
        (before, after)
        for before, after in _pairs(late_writes)
        if not _restarted(before, after) and _running(after) and before.get("ready")
    ]
    assert pairs
    assert [after["ready"] for _, after in pairs] == [True] * len(pairs)


def test_a_node_gone_down_keeps_its_pods_last_kubelet_report() -> None:
    """The node lifecycle controller marks the pods of a node NotReady by their Ready condition
    alone: ContainersReady, the container's `ready` and its `running` state stay as the kubelet
    last wrote them (the kubelet is the one not heard from). Before: `waiting`
    (ContainerCreating), not ready, ContainersReady False, as if the kubelet had reported it."""
    events = [{"at_s": 100, "action": "node_down", "node": "NODE1"}]
    result = run(load_scenario("seed-3node", {"events": events}), 1)
    marked = [
        o.payload["status"]
        for o in result.observations
        if o.kind == "Pod" and o.node == "NODE1" and o.op == "MODIFIED"
    ]
    assert marked, "the node's pods are marked"
    for status in marked:
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        (container,) = status["containerStatuses"]
        assert (conditions["Ready"], conditions["ContainersReady"]) == ("False", "True")
        assert container["ready"] is True
        assert list(container["state"]) == ["running"]
