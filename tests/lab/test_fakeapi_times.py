"""The fake apiserver stamps write times as a real cluster does (recorder/lab/fakes/fakestore.py):
managedFields[].time at each write that changes the object, conditions' lastTransitionTime when
their status changes, whole seconds, from its own clock; served over HTTP as stored."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

from gapwatch.recorder.lab.fakes.fakeapi import FakeApiServer

T0 = datetime(2026, 12, 2, 4, 0, 0, 700_000, tzinfo=UTC)


def node(ready: str, heartbeat: str) -> dict[str, object]:
    return {
        "metadata": {"name": "node-1"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat},
                {"type": "MemoryPressure", "status": "False"},
            ]
        },
    }


def test_write_times_follow_the_fakes_clock_and_only_what_changed() -> None:
    now = [T0]
    with FakeApiServer() as api:
        api.clock = lambda: now[0]
        api.create("Node", node("True", "h0"))
        created = api.get("Node", None, "node-1")
        assert [c["lastTransitionTime"] for c in created["status"]["conditions"]] == [
            "2026-12-02T04:00:00Z",
            "2026-12-02T04:00:00Z",
        ]
        (entry,) = created["metadata"]["managedFields"]
        assert entry["time"] == "2026-12-02T04:00:00Z" and "subresource" not in entry

        now[0] = T0 + timedelta(seconds=10)  # a status-only write: a heartbeat
        api.update("Node", node("True", "h1"))
        beat = api.get("Node", None, "node-1")
        assert [c["lastTransitionTime"] for c in beat["status"]["conditions"]] == [
            "2026-12-02T04:00:00Z",
            "2026-12-02T04:00:00Z",
        ]
        status_entry = [e for e in beat["metadata"]["managedFields"] if e.get("subresource")]
        assert [e["time"] for e in status_entry] == ["2026-12-02T04:00:10Z"]

        now[0] = T0 + timedelta(seconds=21.9)  # Ready flips: only its transition time moves
        api.update("Node", node("False", "h2"))
        now[0] = T0 + timedelta(seconds=40)  # the same object again: nothing moves
        api.update("Node", node("False", "h2"))
        url = f"{api.url}/api/v1/nodes"
        with urllib.request.urlopen(url, timeout=10) as answer:
            (served,) = json.load(answer)["items"]
    ready, memory = served["status"]["conditions"]
    assert ready["lastTransitionTime"] == "2026-12-02T04:00:22Z"
    assert memory["lastTransitionTime"] == "2026-12-02T04:00:00Z"
    times = sorted(e["time"] for e in served["metadata"]["managedFields"])
    assert times == ["2026-12-02T04:00:00Z", "2026-12-02T04:00:22Z"]


def test_without_a_clock_objects_are_stored_as_given() -> None:
    with FakeApiServer() as api:
        api.create("Node", node("True", "h0"))
        stored = api.get("Node", None, "node-1")
    assert "managedFields" not in stored["metadata"]
    assert "lastTransitionTime" not in stored["status"]["conditions"][0]
