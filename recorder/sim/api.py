"""The API server: one resourceVersion counter across kinds, and the k8s-watch observer.

Every write bumps the global resourceVersion, snapshots the object as the API would return it and
queues a `k8s-watch` observation a watch delay later. Writers then tell the controllers that
watch that kind (the EndpointSlice controller and the workload controllers watch Pods).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim import ids, objects
from gapwatch.recorder.sim.emit import K8S
from gapwatch.recorder.sim.state import NodeState, PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


#: Who writes each kind's changes in a real cluster: the managedFields entry the API server
#: updates with the write's time (whole seconds). Field sets (fieldsV1) are left out, as the
#: recorder's default projection stores them.
_WRITERS: dict[str, dict[str, str]] = {
    "EndpointSlice": {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": "discovery.k8s.io/v1",
    },
    "Pod": {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "subresource": "status",
    },
    "Node": {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "subresource": "status",
    },
}


class Api:
    def __init__(self, world: World) -> None:
        self.w = world
        self._rv = 100_000
        self.service_uid = ids.uid(world.rng)
        self._events: dict[tuple[str, str], tuple[str, int, str]] = {}
        self._delivered: dict[str, int] = {}

    def next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def watch(
        self,
        kind: str,
        op: str,
        payload: dict[str, Any],
        *,
        namespace: str | None,
        name: str,
        rv: str,
        node: str | None = None,
        source_time_us: int | None = None,
    ) -> int:
        """Write an object; returns when the watch delivers it (simulated microseconds)."""
        w = self.w
        writer = _WRITERS.get(kind)
        if writer is not None and isinstance(payload.get("metadata"), dict):
            # the write's own time, as the API server records it (replay.owntime reads it)
            entry = {**writer, "time": w.clock.k8s(w.loop.now), "fieldsType": "FieldsV1"}
            payload["metadata"]["managedFields"] = [entry]
        delay = w.s.observe.watch_delay_s.sample_us(w.rng)
        # one watch stream per kind delivers in resourceVersion order: never overtake
        at = max(w.loop.now + delay, self._delivered.get(kind, 0))
        self._delivered[kind] = at
        w.emit.push(
            at,
            K8S,
            kind,
            op,
            payload,
            namespace=namespace,
            name=name,
            node=node,
            rv=rv,
            source_time_us=source_time_us,
        )
        return at

    def node(self, n: NodeState, op: str) -> int:
        """Write a Node; returns when the watch delivers it."""
        n.rv = self.next_rv()
        payload = objects.node_obj(n, self.w.s, self.w.clock, self.w.loop.now)
        return self.watch("Node", op, payload, namespace=None, name=n.name, rv=n.rv, node=n.name)

    def pod(self, p: PodState, op: str) -> None:
        p.rv = self.next_rv()
        ctl = self.w.workloads[p.workload]
        payload = objects.pod_obj(p, self.w.clock, ctl.app_label, ctl.port)
        # the recorder's source time (k8s/resources.source_time): deletionTimestamp while the
        # pod is being deleted, else creationTimestamp for an ADDED; whole seconds, as the API
        own: int | None = None
        if p.deletion_us is not None:
            own = p.deletion_us + int(p.grace_s * 1e6)
        elif op == "ADDED":
            own = p.created_us
        own = None if own is None else own - own % 1_000_000
        self.watch(
            "Pod",
            op,
            payload,
            namespace=p.namespace,
            name=p.name,
            rv=p.rv,
            node=p.node,
            source_time_us=own,
        )
        self.w.on_pod_written(p)

    def service(self) -> None:
        s = self.w.s
        rv = self.next_rv()
        payload = objects.service_obj(s, self.service_uid, rv, self.w.clock)
        self.watch(
            "Service", "ADDED", payload, namespace=s.service.namespace, name=s.service.name, rv=rv
        )

    def lb_event(self, reason: str, message: str) -> None:
        """A service-controller Event; the same reason and message aggregate (count + 1)."""
        s = self.w.s
        now = self.w.loop.now
        key = (reason, message)
        rv = self.next_rv()
        if key in self._events:
            name, count, first = self._events[key]
            count += 1
            op = "MODIFIED"
        else:
            name = f"{s.service.name}.{self.w.rng.getrandbits(64):016x}"
            count, first, op = 1, self.w.clock.k8s(now), "ADDED"
        self._events[key] = (name, count, first)
        payload = objects.event_obj(
            s, name, rv, reason, message, count, first, self.w.clock.k8s(now)
        )
        self.watch(
            "Event",
            op,
            payload,
            namespace=s.service.namespace,
            name=name,
            rv=rv,
            source_time_us=now - now % 1_000_000,
        )
