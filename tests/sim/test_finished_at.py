"""The simulated kubelet writes a container's stop as a real one does: `state.terminated` (or
`lastState.terminated` after a restart) with exitCode, reason, startedAt and finishedAt in
whole seconds, when the container stops; a node that went down reports nothing."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import parse_time, to_micros


def _pods(events: list[dict[str, Any]], node: str) -> list[Observation]:
    result = run(load_scenario("seed-3node", {"events": events}), 1)
    return [o for o in result.observations if o.kind == "Pod" and o.node == node]


def _terminated(o: Observation) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for c in o.payload["status"].get("containerStatuses", []):
        for key in ("state", "lastState"):
            stopped = (c.get(key) or {}).get("terminated")
            if stopped is not None:
                out.append((key, stopped))
    return out


def test_a_crash_is_reported_as_the_last_state_at_the_crash_second() -> None:
    pods = _pods(
        [{"at_s": 100, "action": "crash_pod", "workload": "ingress", "node": "NODE1"}], "NODE1"
    )
    stops = [(o, s) for o in pods for s in _terminated(o)]
    assert stops, "the crash is reported"
    observation, (key, first) = stops[0]
    assert key == "lastState"
    assert (first["exitCode"], first["reason"]) == (1, "Error")
    # the scenario starts on a whole second: the crash at 100 s is written as that second
    start = to_micros(parse_time(first["startedAt"]))
    finished = to_micros(parse_time(first["finishedAt"]))
    assert first["finishedAt"].endswith("Z") and "." not in first["finishedAt"]
    assert start < finished <= to_micros(observation.observed_at)
    assert finished % 1_000_000 == 0


def test_a_deleted_pod_reports_its_exit_after_it_stopped() -> None:
    pods = _pods([{"at_s": 100, "action": "rollout", "workload": "ingress"}], "NODE1")
    exits = [
        (o, s) for o in pods for key, s in _terminated(o) if key == "state" and o.op != "DELETED"
    ]
    assert exits, "the old pods' exits are reported"
    for observation, stopped in exits:
        assert stopped["reason"] in ("Completed", "Error")
        assert stopped["exitCode"] in (0, 137)
        finished = to_micros(parse_time(stopped["finishedAt"]))
        # written when the container stopped: by the update that reports it, in whole seconds
        assert finished <= to_micros(observation.observed_at)
        deleted = to_micros(parse_time(observation.payload["metadata"]["deletionTimestamp"]))
        grace = observation.payload["metadata"]["deletionGracePeriodSeconds"] * 1_000_000
        assert deleted - grace - 1_000_000 <= finished  # after the deletion was asked for


def test_a_node_that_went_down_reports_no_stop() -> None:
    pods = _pods([{"at_s": 100, "action": "node_down", "node": "NODE1"}], "NODE1")
    assert pods
    assert all(_terminated(o) == [] for o in pods)


def test_a_node_that_goes_down_during_a_shutdown_reports_no_stop_after() -> None:
    """A drain at 100 s starts the pod's graceful shutdown; the machine stops at 102 s, before the
    container exits: the kubelet died with it, so no update reports the exit or removes the pod
    (the pod stays Terminating until the node's pods are garbage-collected)."""
    pods = _pods(
        [
            {"at_s": 100, "action": "drain", "node": "NODE1"},
            {"at_s": 102, "action": "node_down", "node": "NODE1"},
        ],
        "NODE1",
    )
    down = pods[0].observed_at.replace(minute=1, second=42, microsecond=0)
    after = [o for o in pods if o.observed_at >= down]
    assert all(_terminated(o) == [] for o in after)
    assert all(o.op != "DELETED" for o in after)
    assert any(o.payload["metadata"].get("deletionTimestamp") for o in pods), "the drain asked"
