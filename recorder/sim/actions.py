"""The scenario's events: rollouts, scaling, node cordon/drain/delete/add, pod crashes.

`node: "@random"` picks a node with the simulation's random generator when the event fires, so
repeated events (`every_s`, `count`) spread over a large cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.nodegrace import not_ready_after_s
from gapwatch.recorder.sim.scenario import Event
from gapwatch.recorder.sim.state import PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


def schedule_events(w: World) -> None:
    for ev in w.s.events:
        for i in range(ev.count):
            at = us(ev.at_s + i * (ev.every_s or 0.0))
            w.loop.at(at, fire, w, ev)
    w.proxy.schedule_configs()


def fire(w: World, ev: Event) -> None:
    ctl = w.workloads.get(ev.workload)
    if ev.action == "rollout" and ctl is not None:
        ctl.rollout()
    elif ev.action == "scale" and ctl is not None and ev.replicas is not None:
        ctl.scale(ev.replicas)
    elif ev.action == "crash_pod" and ctl is not None:
        crash_pod(w, ev)
    elif ev.action == "add_node":
        add_node(w, ev.node)
    else:
        node = pick_node(w, ev)
        if node is None:
            return
        if ev.action == "cordon":
            set_unschedulable(w, node, True)
        elif ev.action == "uncordon":
            set_unschedulable(w, node, False)
        elif ev.action == "drain":
            drain(w, node)
        elif ev.action == "delete_node":
            delete_node(w, node)
        elif ev.action == "node_down":
            node_down(w, node)
        elif ev.action == "restart_kube_proxy":
            w.proxy.restart(node)
        elif ev.action == "scale_down":
            from gapwatch.recorder.sim.autoscaler import scale_down

            scale_down(w, node)


def pick_node(w: World, ev: Event) -> str | None:
    if ev.node is None or ev.node.startswith("@"):
        want_cordoned = ev.action == "uncordon"
        pool = [
            n.name
            for n in w.nodes.values()
            if n.exists and n.ready and n.unschedulable == want_cordoned
        ]
        return w.rng.choice(pool) if pool else None
    n = w.nodes.get(ev.node)
    return ev.node if n is not None and n.exists else None


def set_unschedulable(w: World, node: str, value: bool) -> None:
    n = w.nodes[node]
    if n.unschedulable == value:
        return
    n.unschedulable = value
    w.api.node(n, "MODIFIED")
    w.ccm.on_nodes()
    for ctl in w.workloads.values():
        ctl.trigger()


def drain(w: World, node: str) -> None:
    """kubectl drain: cordon, then evict every pod but DaemonSet pods (--ignore-daemonsets)."""
    set_unschedulable(w, node, True)
    for p in sorted(w.pods.values(), key=lambda q: q.name):
        if p.node == node and p.owner_kind != "DaemonSet" and p.live:
            w.kubelet.delete(p)


def delete_node(w: World, node: str) -> None:
    """The machine goes away: its pods stop at once and are garbage-collected from the API.
    The prober probes the nodes its watch knows (recorder/sources/view.py), so it keeps looking
    (timeouts) until the watch delivers the Node's deletion."""
    n = w.nodes[node]
    n.exists = n.up = n.ready = False
    seen = w.api.node(n, "DELETED")
    w.proxy.stop(node)
    w.prober.leave(node, seen)
    for p in sorted(w.pods.values(), key=lambda q: q.name):
        if p.node == node and not p.gone:
            if p.serving:
                p.serving = False
                w.mark(node)
            lag = w.s.kubelet.delete_lag_s.sample_us(w.rng)
            w.loop.after(lag, w.kubelet.remove, p)
    w.ccm.on_nodes()


def node_down(w: World, node: str) -> None:
    """The machine stops answering (kernel panic, network cut): nothing on it serves any more.

    The node controller marks it NotReady after its node-monitor-grace-period
    (`not_ready_after_s`, else the version's default: recorder.sim.nodegrace) and its pods not
    ready; after `eviction_after_s` more they are deleted, but with the kubelet gone they stay
    Terminating.
    """
    n = w.nodes[node]
    if not n.up:
        return
    n.up = False
    for p in w.pods.values():
        if p.node == node and p.serving:
            p.serving = False
    w.mark(node)
    w.lb.check_soon(node)
    w.loop.after(us(not_ready_after_s(w.s)), _node_not_ready, w, node)


def _node_not_ready(w: World, node: str) -> None:
    if not _set_ready(w, node, False):
        return
    pods = sorted((p for p in w.pods.values() if p.node == node and not p.gone), key=_name)
    for p in pods:
        if p.ready:
            p.ready = False
            w.api.pod(p, "MODIFIED")
    w.loop.after(us(w.s.nodes.eviction_after_s), _evict, w, node)


def _set_ready(w: World, node: str, ready: bool) -> bool:
    """The node's Ready condition changes; the CCM and the workload controllers react."""
    n = w.nodes[node]
    if not n.exists:
        return False
    n.ready = ready
    w.api.node(n, "MODIFIED")
    if ready:
        w.proxy.start(node)
    w.ccm.on_nodes()
    for ctl in w.workloads.values():
        ctl.trigger()
    return True


def _evict(w: World, node: str) -> None:
    for p in sorted(w.pods.values(), key=_name):
        if p.node == node and p.live:
            w.kubelet.delete(p)


def _name(p: PodState) -> str:
    return p.name


def add_node(w: World, name: str | None) -> None:
    if name is None or name in w.nodes:
        base = name or "node"
        k = len(w.nodes) + 1
        while f"{base}-{k:03d}" in w.nodes:
            k += 1
        name = f"{base}-{k:03d}"
    n = w.new_node(name, created_us=w.loop.now)
    n.ready = False
    w.api.node(n, "ADDED")
    w.ccm.on_node_added()
    w.prober.add(name)
    w.loop.after(us(w.s.nodes.ready_after_s), _node_ready, w, name)


def _node_ready(w: World, name: str) -> None:
    _set_ready(w, name, True)


def crash_pod(w: World, ev: Event) -> None:
    ctl = w.workloads[ev.workload]
    pool = [p for p in ctl.pods.values() if p.live and p.serving]
    if ev.node is not None and not ev.node.startswith("@"):
        pool = [p for p in pool if p.node == ev.node]
    if pool:
        w.kubelet.crash(w.rng.choice(sorted(pool, key=lambda p: p.name)))
