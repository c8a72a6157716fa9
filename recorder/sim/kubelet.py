"""Pods on nodes: start, readiness, crash and restart, deletion with preStop and grace period.

Truth (`PodState.serving`) changes the instant the process starts or exits; the API status that
the kubelet writes follows a status lag later. Deletion: the API marks the pod (deletionTimestamp);
the kubelet notices after its lag, runs preStop (bounded by the grace period), then SIGTERM; the
app keeps serving for its shutdown time and exits, or is SIGKILLed when the grace period ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.state import KubeletReport, PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class Kubelet:
    def __init__(self, world: World) -> None:
        self.w = world

    def _lag(self) -> int:
        return self.w.s.kubelet.lag_s.sample_us(self.w.rng)

    def admit(self, p: PodState) -> None:
        """A new pod bound to its node: its container starts after the start-up time."""
        spec = self.w.workloads[p.workload].pod_spec
        self.w.loop.after(self._lag() + spec.start_s.sample_us(self.w.rng), self._start, p)

    def _start(self, p: PodState) -> None:
        if p.gone or p.exited or p.deletion_us is not None or not self._node_up(p):
            return
        w = self.w
        p.serving = True
        p.started_us = w.loop.now
        w.mark(p.node)
        w.loop.after(w.s.kubelet.status_lag_s.sample_us(w.rng), self._status_running, p)
        spec = w.workloads[p.workload].pod_spec
        w.loop.after(spec.readiness_delay_s.sample_us(w.rng), self._probe_ready, p, p.restarts)

    def _status_running(self, p: PodState) -> None:
        if p.gone or p.exited:
            return
        p.phase = "Running"
        if not p.probed:
            # a kubelet reports a new container ready only once its readiness probe passed:
            # after a crash whose own status write has not landed yet, not from the old one's
            p.ready = False
        self._report(p)

    def _probe_ready(self, p: PodState, restarts: int) -> None:
        if p.gone or not p.serving or p.restarts != restarts or p.deletion_us is not None:
            return
        w = self.w
        p.probed = True
        w.loop.after(w.s.kubelet.status_lag_s.sample_us(w.rng), self._status_ready, p, restarts)

    def _status_ready(self, p: PodState, restarts: int) -> None:
        if p.gone or not p.serving or p.restarts != restarts or p.deletion_us is not None:
            return
        p.phase = "Running"
        p.ready = True
        p.ready_us = self.w.loop.now
        self._report(p)

    def crash(self, p: PodState) -> None:
        """The container dies; the kubelet reports it and restarts it after a back-off."""
        if p.gone or not p.serving:
            return
        w = self.w
        w.truth.pod_killed(p)
        p.serving = p.probed = False
        p.restarts += 1
        p.stopped = (p.started_us or p.created_us, w.loop.now, 1, "Error")
        w.mark(p.node)
        w.loop.after(w.s.kubelet.status_lag_s.sample_us(w.rng), self._status_crashed, p)
        spec = w.workloads[p.workload].pod_spec
        delay = us(spec.restart_backoff_s) + spec.start_s.sample_us(w.rng)
        w.loop.after(delay, self._restart, p)

    def _status_crashed(self, p: PodState) -> None:
        if p.gone or p.serving:
            # restarted before this write landed: a kubelet writes what it sees now, and the
            # restart's own write reports the stop (restartCount, lastState.terminated); a
            # write of the crash after it would mark the new container not ready for good
            return
        p.ready = False
        self._report(p)

    def _restart(self, p: PodState) -> None:
        if p.deletion_us is not None:
            return
        self._start(p)

    def delete(self, p: PodState) -> None:
        """The API marks the pod for deletion (graceful); the kubelet takes it from there."""
        if p.deletion_us is not None or p.gone:
            return
        w = self.w
        if w.grace.holds(p):
            return  # Tencent's grace deletion: the CCM deletes it once the weight is 0
        p.deletion_us = w.loop.now
        w.api.pod(p, "MODIFIED")
        w.grace.on_deleting(p)
        w.loop.after(self._lag(), self._kill, p)

    def _kill(self, p: PodState) -> None:
        if p.gone or not self._node_up(p):
            return  # a dead kubelet kills nothing: the pod stays Terminating
        w = self.w
        grace = us(p.grace_s)
        prestop = min(us(p.prestop_s), grace)
        spec = w.workloads[p.workload].pod_spec
        exit_after = prestop + us(spec.app_shutdown_s)
        if not p.serving:
            exit_after = prestop
        w.loop.after(min(exit_after, grace), self._exit, p, exit_after > grace)

    def _exit(self, p: PodState, killed: bool = False) -> None:
        if p.gone or p.exited or not self._node_up(p):
            return  # the container died with its node; a dead kubelet records no stop
        w = self.w
        if killed and p.serving:
            w.truth.pod_killed(p)  # SIGKILL: requests in flight are reset (a drain ends none)
        if p.serving or p.stopped is None:
            # the kubelet records the stop on its node's clock: SIGKILL exits 137, a clean
            # shutdown 0 (a container already down keeps its earlier stop)
            code, reason = (137, "Error") if killed else (0, "Completed")
            p.stopped = (p.started_us or p.created_us, w.loop.now, code, reason)
        p.serving = False
        p.exited = True
        p.phase = "Succeeded"
        w.mark(p.node)
        w.loop.after(w.s.kubelet.status_lag_s.sample_us(w.rng), self._status_exited, p)

    def _status_exited(self, p: PodState) -> None:
        if p.gone or not self._node_up(p):
            return  # a dead kubelet writes nothing: the pod stays Terminating
        p.ready = False
        self._report(p)
        self.w.loop.after(self.w.s.kubelet.delete_lag_s.sample_us(self.w.rng), self.remove, p)

    def remove(self, p: PodState) -> None:
        """The pod object leaves the API (after a graceful exit, or forced with its node)."""
        if p.gone:
            return
        w = self.w
        if p.serving:
            p.serving = False
            w.mark(p.node)
        p.gone = True
        p.ready = False
        w.api.pod(p, "DELETED")
        w.forget_pod(p)

    def _report(self, p: PodState) -> None:
        """The kubelet writes the pod's status as it sees it now."""
        p.reported = KubeletReport.of(p)
        self.w.api.pod(p, "MODIFIED")

    def _node_up(self, p: PodState) -> bool:
        node = self.w.nodes.get(p.node)
        return node is not None and node.up and node.exists
