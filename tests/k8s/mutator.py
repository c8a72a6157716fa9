"""A seeded script of cluster changes applied to the fake API: creates, updates, deletes.

Every update changes a field replay reads (labels, readiness, endpoints), except `heartbeat`,
which only moves a Node condition's lastHeartbeatTime (a no-op the recorder must drop); the
resourceVersions of those are collected in `noop`.
"""

from __future__ import annotations

import random
from typing import Any

from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer

NAMESPACE = "shop"


class Mutator:
    def __init__(self, fake: FakeApiServer, seed: int) -> None:
        self.fake = fake
        self.rng = random.Random(seed)
        self.counter = 0
        self.noop: set[int] = set()
        self.live: dict[str, list[tuple[str | None, str]]] = {
            "Node": [],
            "Pod": [],
            "EndpointSlice": [],
            "Event": [],
            "Service": [],
        }

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def _create(self, kind: str, obj: dict[str, Any]) -> None:
        self.fake.create(kind, obj)
        meta = obj["metadata"]
        self.live[kind].append((meta.get("namespace") if kind != "Node" else None, meta["name"]))

    def seed(self) -> None:
        """A starting cluster: Services, Nodes, Pods, EndpointSlices."""
        for service in objects.services():
            self._create("Service", service)
        for i in range(8):
            self._create("Node", objects.node(i))
        for _ in range(30):
            self._create_pod()
        for _ in range(10):
            self._create_slice()

    def _node_name(self) -> str:
        return self.rng.choice(self.live["Node"])[1] if self.live["Node"] else "node-0"

    def _create_pod(self) -> None:
        name = self._name("web")
        self._create("Pod", objects.pod(NAMESPACE, name, self._node_name(), {"app": "web"}))

    def _create_slice(self) -> None:
        name = self._name("gw")
        obj = objects.endpoint_slice(NAMESPACE, name, "gateway", self._node_name())
        self._create("EndpointSlice", obj)

    def _update(self, kind: str, *, heartbeat: bool = False) -> None:
        namespace, name = self.rng.choice(self.live[kind])
        obj = self.fake.get(kind, namespace, name)
        self.counter += 1
        if heartbeat:
            for condition in obj.get("status", {}).get("conditions", []):
                condition["lastHeartbeatTime"] = f"2026-11-25T10:{self.counter % 60:02d}:00Z"
            self.noop.add(self.fake.update(kind, obj))
            return
        obj["metadata"].setdefault("labels", {})["gapwatch.test/rev"] = str(self.counter)
        if kind == "EndpointSlice":
            for endpoint in obj["endpoints"]:
                ready = self.rng.random() < 0.5
                endpoint["conditions"] = {
                    "ready": ready,
                    "serving": ready,
                    "terminating": not ready,
                }
        if kind == "Event":
            obj["count"] = int(obj.get("count", 1)) + 1
        self.fake.update(kind, obj)

    def _delete(self, kind: str) -> None:
        if len(self.live[kind]) < 3:
            return
        namespace, name = self.live[kind].pop(self.rng.randrange(len(self.live[kind])))
        self.fake.delete(kind, namespace, name)

    def step(self, *, noops: bool = True) -> None:
        roll = self.rng.random()
        if roll < 0.12:
            self._create_pod()
        elif roll < 0.35:
            self._update("Pod")
        elif roll < 0.42:
            self._delete("Pod")
        elif roll < 0.47:
            self._create_slice()
        elif roll < 0.65:
            self._update("EndpointSlice")
        elif roll < 0.69:
            self._delete("EndpointSlice")
        elif roll < 0.75:
            self._update("Node")
        elif roll < 0.83:
            if noops:
                self._update("Node", heartbeat=True)
            else:
                self._update("Node")
        elif roll < 0.90:
            name = self._name("gw-event")
            self._create("Event", objects.event(NAMESPACE, name, "service-controller", "Updated"))
        elif roll < 0.95 and self.live["Event"]:
            self._update("Event")
        else:
            self._update("Service")

    def run(self, count: int, *, noops: bool = True) -> None:
        for _ in range(count):
            self.step(noops=noops)
