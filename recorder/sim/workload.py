"""Workload controllers: a Deployment (ReplicaSets, RollingUpdate with maxSurge/maxUnavailable)
or a DaemonSet (one pod per node, rolling per node), plus the scheduler that places pods.

A rollout is a new revision; the controller then surges new pods and deletes old ones within its
budget on every reconcile (triggered by pod and node changes, after the controller's lag).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim import ids, objects
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.daemonset import reconcile_daemonset
from gapwatch.recorder.sim.scenario import Workload
from gapwatch.recorder.sim.state import KubeletReport, PodState, ReplicaSetState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class WorkloadController:
    def __init__(self, world: World, key: str, spec: Workload, port: int) -> None:
        self.w = world
        self.key = key
        self.spec = spec
        self.kind = spec.kind
        self.pod_spec = spec.pod
        self.app_label = spec.name
        self.port = port
        self.uid = ids.uid(world.rng)
        self.replicas = spec.replicas
        self.generation = 1
        self.revisions: list[ReplicaSetState] = []
        self.pods: dict[str, PodState] = {}
        self._pending = False
        self.rollout_id: str | None = None
        self._rv = "0"
        self._written_status: dict[str, int] = {}

    # -- identity --------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.spec.namespace}/{self.spec.name}"

    @property
    def current(self) -> ReplicaSetState:
        return self.revisions[-1]

    def _new_revision(self) -> ReplicaSetState:
        rng = self.w.rng
        rev = ids.template_hash(rng)
        name = f"{self.spec.name}-{rev}" if self.kind == "Deployment" else f"{self.spec.name}"
        rs = ReplicaSetState(name, ids.uid(rng), rev, len(self.revisions) + 1, self.w.loop.now)
        self.revisions.append(rs)
        return rs

    # -- start of the simulation: everything already running ----------------------------------
    def bootstrap(self) -> None:
        rs = self._new_revision()
        rs.created_us = -us(3600)
        targets = self._initial_nodes()
        for i, node in enumerate(targets):
            p = self.make_pod(rs, node, created_us=-us(3000) + i * 1_000_000)
            p.phase, p.serving, p.ready, p.probed = "Running", True, True, True
            p.started_us = p.ready_us = p.created_us
            p.reported = KubeletReport.of(p)  # running and ready when the scenario begins
        self._write_workload("ADDED")
        if self.kind == "Deployment":
            rs.replicas = rs.ready = len(targets)
            self._write_rs(rs, "ADDED")
        for p in self.pods.values():
            self.w.api.pod(p, "ADDED")

    def _initial_nodes(self) -> list[str]:
        nodes = [n.name for n in self.w.nodes.values() if n.exists]
        if self.kind == "DaemonSet":
            return nodes
        place = list(self.spec.place_on) or nodes
        return [place[i % len(place)] for i in range(self.replicas)]

    # -- events ----------------------------------------------------------------------------
    def rollout(self) -> None:
        old = self.current.revision
        rs = self._new_revision()
        self.generation += 1
        self._write_workload("MODIFIED")
        if self.kind == "Deployment":
            self._write_rs(rs, "ADDED")
        if self.key == "ingress":
            self.rollout_id = self.w.truth.rollout_started(self.ref, old, rs.revision)
        self.trigger()

    def scale(self, replicas: int) -> None:
        self.replicas = replicas
        self.generation += 1
        self._write_workload("MODIFIED")
        self.trigger()

    def trigger(self) -> None:
        """Reconcile after the controller's lag (coalesced: one pending reconcile at a time)."""
        if not self._pending:
            self._pending = True
            self.w.loop.after(self.spec.controller_lag_s.sample_us(self.w.rng), self._reconcile)

    def _reconcile(self) -> None:
        self._pending = False
        if self.kind == "Deployment":
            self._reconcile_deployment()
        else:
            reconcile_daemonset(self)
        if self._status() != self._written_status:
            self._write_workload("MODIFIED")
        if self.rollout_id is not None:
            old = [p for p in self.pods.values() if p.revision != self.current.revision]
            if not old and self._ready_count(self.current.revision) >= self._desired():
                self.w.truth.rollout_pods_gone(self.rollout_id)
                self.rollout_id = None

    def _desired(self) -> int:
        if self.kind == "DaemonSet":
            return len(self.eligible_nodes())
        return self.replicas

    def _ready_count(self, revision: str) -> int:
        return sum(1 for p in self.pods.values() if p.live and p.ready and p.revision == revision)

    # -- Deployment --------------------------------------------------------------------------
    def _reconcile_deployment(self) -> None:
        cur = self.current.revision
        live = [p for p in self.pods.values() if p.live]
        new_live = [p for p in live if p.revision == cur]
        old_live = [p for p in live if p.revision != cur]
        n = self.replicas
        surge_room = n + self.spec.max_surge - len(live)
        for _ in range(max(0, min(surge_room, n - len(new_live)))):
            node = self._schedule()
            if node is None:
                break
            self.make_pod(self.current, node)
        min_available = n - self.spec.max_unavailable
        available = sum(1 for p in live if p.ready)
        budget = available - min_available
        for p in sorted(old_live, key=lambda q: (q.ready, -q.created_us, q.name)):
            if not p.ready:
                self.delete(p)
            elif budget > 0:
                self.delete(p)
                budget -= 1
        if not old_live and len(new_live) > n:
            extra = sorted(new_live, key=lambda q: (q.ready, -q.created_us, q.name))
            for p in extra[: len(new_live) - n]:
                self.delete(p)
        counts: dict[str, int] = {}
        ready: dict[str, int] = {}
        for p in self.pods.values():
            if p.live:
                counts[p.revision] = counts.get(p.revision, 0) + 1
                ready[p.revision] = ready.get(p.revision, 0) + (1 if p.ready else 0)
        for rs in self.revisions:
            want, up = counts.get(rs.revision, 0), ready.get(rs.revision, 0)
            if (rs.replicas, rs.ready) != (want, up):
                rs.replicas, rs.ready = want, up
                self._write_rs(rs, "MODIFIED")

    def eligible_nodes(self) -> list[str]:
        return [n.name for n in self.w.nodes.values() if n.exists and n.ready]

    # -- pods --------------------------------------------------------------------------------
    def _schedule(self) -> str | None:
        """The schedulable, ready node with the fewest live pods of this workload."""
        counts: dict[str, int] = {}
        for p in self.pods.values():
            if p.live:
                counts[p.node] = counts.get(p.node, 0) + 1
        best: tuple[int, int, str] | None = None
        for n in self.w.nodes.values():
            if n.exists and n.ready and not n.unschedulable and not n.to_be_deleted:
                key = (counts.get(n.name, 0), n.index, n.name)
                if best is None or key < best:
                    best = key
        return None if best is None else best[2]

    def make_pod(self, rs: ReplicaSetState, node: str, created_us: int | None = None) -> PodState:
        w = self.w
        name = f"{rs.name}-{ids.suffix(w.rng)}"
        spec = self.pod_spec
        p = PodState(
            name=name,
            uid=ids.uid(w.rng),
            namespace=self.spec.namespace,
            workload=self.key,
            owner_kind="ReplicaSet" if self.kind == "Deployment" else "DaemonSet",
            owner_name=rs.name,
            revision=rs.revision,
            node=node,
            ip=w.next_pod_ip(),
            created_us=w.loop.now if created_us is None else created_us,
            prestop_s=spec.prestop_s,
            grace_s=spec.termination_grace_s,
        )
        self.pods[name] = p
        w.pods[name] = p
        w.pods_by_uid[p.uid] = p
        if created_us is None:
            p.reported = KubeletReport.of(p)  # Pending: no container status yet
            w.api.pod(p, "ADDED")
            w.kubelet.admit(p)
        return p

    def delete(self, p: PodState) -> None:
        self.w.kubelet.delete(p)

    def forget(self, p: PodState) -> None:
        self.pods.pop(p.name, None)
        self.trigger()

    # -- API objects -------------------------------------------------------------------------
    def _write_workload(self, op: str) -> None:
        api = self.w.api
        self._rv = api.next_rv()
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app": self.app_label}},
            "template": {
                "metadata": {"labels": {"app": self.app_label}},
                "spec": {"terminationGracePeriodSeconds": int(self.pod_spec.termination_grace_s)},
            },
        }
        if self.kind == "Deployment":
            spec["replicas"] = self.replicas
            spec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": self.spec.max_surge,
                    "maxUnavailable": self.spec.max_unavailable,
                },
            }
        else:
            spec["updateStrategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": self.spec.max_surge,
                    "maxUnavailable": self.spec.max_unavailable,
                },
            }
        status = self._written_status = self._status()
        payload = objects.workload_obj(
            self.kind,
            self.spec.name,
            self.spec.namespace,
            self.uid,
            self._rv,
            self.generation,
            spec,
            status,
            self.w.clock,
            len(self.revisions),
        )
        api.watch(
            self.kind, op, payload, namespace=self.spec.namespace, name=self.spec.name, rv=self._rv
        )

    def _status(self) -> dict[str, int]:
        live = [p for p in self.pods.values() if p.live]
        cur = self.current.revision
        ready = sum(1 for p in live if p.ready)
        updated = sum(1 for p in live if p.revision == cur)
        if self.kind == "Deployment":
            return {
                "observedGeneration": self.generation,
                "replicas": len(live),
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": max(0, self.replicas - ready),
            }
        return {
            "observedGeneration": self.generation,
            "desiredNumberScheduled": len(self.eligible_nodes()),
            "currentNumberScheduled": len({p.node for p in live}),
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": updated,
        }

    def _write_rs(self, rs: ReplicaSetState, op: str) -> None:
        api = self.w.api
        rs.rv = api.next_rv()
        rs.pods = [p.name for p in self.pods.values() if p.revision == rs.revision and p.live]
        payload = objects.replicaset_obj(
            rs, self.spec.namespace, self.spec.name, self.app_label, self.w.clock, rs.ready
        )
        api.watch("ReplicaSet", op, payload, namespace=self.spec.namespace, name=rs.name, rv=rs.rv)
