"""The EndpointSlice controller for the LB-facing Service.

It watches the Service's pods and, a lag later (plus an optional batch period that coalesces
changes, like kube-controller-manager's `--endpointslice-updates-batch-period`), rewrites the
slices whose endpoints changed. Conditions follow the API: `ready` = pod Ready and not
terminating; `serving` = pod Ready; `terminating` = deletionTimestamp set. Endpoints keep their
slice; a new one goes to the first slice with room. Publishing tells kube-proxy and the CCM which
nodes' local endpoints changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim import ids, objects
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.state import Endpoint, PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class EndpointSliceController:
    def __init__(self, world: World) -> None:
        self.w = world
        self.published: dict[str, Endpoint] = {}
        self.by_node: dict[str, dict[str, Endpoint]] = {}
        self._slice_of: dict[str, int] = {}
        self._slices: list[tuple[str, list[str]]] = []
        self._generation: list[int] = []
        self._pending = False
        self._trigger_us: int | None = None

    def on_pod(self, p: PodState) -> None:
        """A pod of the Service changed in the API: sync after the lag (coalesced)."""
        if self._trigger_us is None:
            self._trigger_us = self.w.loop.now
        if not self._pending:
            self._pending = True
            s = self.w.s.endpointslice
            delay = s.lag_s.sample_us(self.w.rng) + us(s.batch_s)
            self.w.loop.after(delay, self.sync)

    def desired(self) -> dict[str, Endpoint]:
        out: dict[str, Endpoint] = {}
        for p in self.w.workloads["ingress"].pods.values():
            if p.gone or p.phase == "Pending":
                continue
            term = p.deletion_us is not None
            out[p.uid] = Endpoint(p.uid, p.name, p.node, p.ip, p.ready and not term, p.ready, term)
        return out

    def sync(self, *, initial: bool = False) -> None:
        self._pending = False
        want = self.desired()
        have = self.published
        changed_nodes: set[str] = set()
        dirty_slices: set[int] = set()
        for uid, ep in have.items():
            if uid not in want:
                changed_nodes.add(ep.node)
                idx = self._slice_of.pop(uid)
                self._slices[idx][1].remove(uid)
                dirty_slices.add(idx)
        for uid, ep in want.items():
            old = have.get(uid)
            if old == ep:
                continue
            changed_nodes.add(ep.node)
            idx = self._place(uid) if old is None else self._slice_of[uid]
            dirty_slices.add(idx)
        self.published = want
        by_node: dict[str, dict[str, Endpoint]] = {}
        for uid, ep in want.items():
            by_node.setdefault(ep.node, {})[uid] = ep
        self.by_node = by_node
        trigger = None if initial else self._trigger_us
        self._trigger_us = None
        for idx in sorted(dirty_slices):
            self._write(idx, "ADDED" if initial else "MODIFIED", trigger)
        if initial and not self._slices:
            self._slices.append((self._new_name(), []))
            self._generation.append(0)
            self._write(0, "ADDED", None)
        if not initial and changed_nodes:
            self.w.on_endpoints(sorted(changed_nodes))

    def _new_name(self) -> str:
        return f"{self.w.s.service.name}-{ids.suffix(self.w.rng)}"

    def _place(self, uid: str) -> int:
        cap = self.w.s.endpointslice.max_endpoints_per_slice
        for idx, (_name, members) in enumerate(self._slices):
            if len(members) < cap:
                members.append(uid)
                self._slice_of[uid] = idx
                return idx
        self._slices.append((self._new_name(), [uid]))
        self._generation.append(0)
        self._slice_of[uid] = len(self._slices) - 1
        return len(self._slices) - 1

    def _write(self, idx: int, op: str, trigger_us: int | None) -> None:
        w = self.w
        name, members = self._slices[idx]
        self._generation[idx] += 1
        rv = w.api.next_rv()
        eps = [self.published[uid] for uid in members]
        payload = objects.slice_obj(name, w.s, rv, eps, w.clock, trigger_us, self._generation[idx])
        w.api.watch("EndpointSlice", op, payload, namespace=w.s.service.namespace, name=name, rv=rv)

    def ready_local(self, node: str) -> bool:
        """Does the published slice have a ready endpoint on `node`?"""
        return any(ep.ready for ep in self.by_node.get(node, {}).values())
