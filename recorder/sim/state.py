"""The simulator's TRUE state of nodes and pods (what really is, not what anyone observed)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class NodeState:
    """One node. `up` is the truth (kubelet and kube-proxy alive); `ready` is the API condition."""

    name: str
    index: int
    uid: str
    instance_id: str
    zone: str
    ip: str
    created_us: int
    up: bool = True
    ready: bool = True
    unschedulable: bool = False
    #: tainted ToBeDeletedByClusterAutoscaler (a scale-down is removing it)
    to_be_deleted: bool = False
    exists: bool = True
    rv: str = "0"


@dataclass(frozen=True, slots=True)
class KubeletReport:
    """What a pod's kubelet last wrote of it (the phase, the container's state, readiness,
    restarts and last stop): the status every other writer keeps. The API server's deletion
    mark changes the metadata alone; the node lifecycle controller sets the Ready condition
    alone (MarkPodsNotReady), the container left `running` and ready as the kubelet last wrote
    it: a node that went down reports nothing."""

    phase: str
    serving: bool
    exited: bool
    ready: bool
    restarts: int
    started_us: int | None
    stopped: tuple[int, int, int, str] | None

    @classmethod
    def of(cls, p: PodState) -> KubeletReport:
        return cls(p.phase, p.serving, p.exited, p.ready, p.restarts, p.started_us, p.stopped)


@dataclass(slots=True)
class PodState:
    """One pod. `serving` is the truth (process alive and accepting); the rest is API state."""

    name: str
    uid: str
    namespace: str
    workload: str
    owner_kind: str
    owner_name: str
    revision: str
    node: str
    ip: str
    created_us: int
    prestop_s: float
    grace_s: float
    phase: str = "Pending"
    serving: bool = False
    ready: bool = False
    started_us: int | None = None
    ready_us: int | None = None
    deletion_us: int | None = None
    exited: bool = False
    gone: bool = False
    restarts: int = 0
    #: the running container passed its readiness probe (the kubelet knows it at once, the API
    #: from its status write): a restarted container is not ready before its own probe passes
    probed: bool = False
    rv: str = "0"
    generation: int = 0
    #: the container's last stop the kubelet saw: (startedAt, finishedAt, exitCode, reason),
    #: written as `state.terminated` once exited, else as `lastState.terminated` (a crash)
    stopped: tuple[int, int, int, str] | None = None
    #: the kubelet's last status write (the API server's, Pending, for a new pod)
    reported: KubeletReport | None = None

    @property
    def terminating(self) -> bool:
        return self.deletion_us is not None

    @property
    def live(self) -> bool:
        """Counted by its controller: not being deleted and not gone."""
        return self.deletion_us is None and not self.gone


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint as the EndpointSlice controller published it."""

    uid: str
    pod: str
    node: str
    ip: str
    ready: bool
    serving: bool
    terminating: bool


@dataclass(slots=True)
class ReplicaSetState:
    """One revision of a Deployment (or a DaemonSet's ControllerRevision)."""

    name: str
    uid: str
    revision: str
    number: int
    created_us: int
    replicas: int = 0
    ready: int = 0
    rv: str = "0"
    pods: list[str] = field(default_factory=list)
