"""The scenario: every parameter of a simulated cluster, as frozen dataclasses with defaults.

`config.py` builds these from presets, YAML files and `--set key=value` overrides and validates
them; `params()` flattens one back into the dict written as the truth file's first line.
Times are seconds (floats) here; the core converts them to integer microseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gapwatch.recorder.sim.core import Lag
from gapwatch.recorder.sim.providers import Cloud

CcmMode = Literal["endpoint-driven", "node-driven"]
CcmController = Literal["aws-load-balancer-controller", "service-controller"]
Listener = Literal["http", "tcp"]
WorkloadKind = Literal["Deployment", "DaemonSet"]
ServiceType = Literal["NodePort", "LoadBalancer"]
#: kube-proxy's data plane (its `mode`; nftables answers a NodePort as iptables does)
ProxyMode = Literal["iptables", "ipvs"]
Action = Literal[
    "rollout",
    "scale",
    "drain",
    "cordon",
    "uncordon",
    "delete_node",
    "add_node",
    "crash_pod",
    "node_down",
    "restart_kube_proxy",
    "scale_down",
]
#: Default lag distributions (frozen, shared safely between instances).
POD_START_LAG = Lag(2.0, 4.0, 20.0)
READINESS_LAG = Lag(1.0, 2.0, 10.0)
CONTROLLER_LAG = Lag(0.05, 0.2, 1.0)
KUBE_PROXY_LAG = Lag(1.5, 2.5, 5.0)
KUBE_PROXY_RESTART = Lag(3.0, 8.0, 30.0)
CCM_REGISTER_LAG = Lag(0.3, 0.6, 1.0)
CCM_DEREGISTER_LAG = Lag(3.0, 6.0, 10.0)
KUBELET_LAG = Lag(0.1, 0.3, 1.0)
STATUS_LAG = Lag(0.2, 0.5, 2.0)
DELETE_LAG = Lag(0.3, 0.8, 3.0)
WATCH_DELAY = Lag(0.01, 0.05, 0.5)

ACTIONS: tuple[str, ...] = (
    "rollout",
    "scale",
    "drain",
    "cordon",
    "uncordon",
    "delete_node",
    "add_node",
    "crash_pod",
    "node_down",
    "restart_kube_proxy",
    "scale_down",
)


@dataclass(frozen=True, slots=True)
class Nodes:
    count: int = 3
    names: tuple[str, ...] = ()
    #: whose machines: their instance ids and providerIDs (recorder.sim.providers)
    cloud: Cloud = "aws"
    zones: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c")
    kubelet_version: str = "v1.27.8"
    kube_proxy_version: str = "v1.27.8"
    ready_after_s: float = 20.0
    #: the node controller's `--node-monitor-grace-period`: a silent node is NotReady this long
    #: after its last status. None: the version's default, 40 s before 1.32, 50 s from 1.32
    #: (recorder.sim.nodegrace, kubernetes/kubernetes#126287)
    not_ready_after_s: float | None = None
    eviction_after_s: float = 300.0
    #: cluster-autoscaler scale-down: from the node's last evicted pod gone to the machine gone
    #: (the cloud's instance termination; gapwatch's choice, no published figure)
    scale_down_delete_after_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str = "istio-system"
    name: str = "istio-ingressgateway"
    type: ServiceType = "LoadBalancer"
    port: int = 80
    node_port: int = 32999
    health_check_node_port: int = 31805


@dataclass(frozen=True, slots=True)
class PodSpec:
    start_s: Lag = POD_START_LAG
    readiness_delay_s: Lag = READINESS_LAG
    prestop_s: float = 0.0
    termination_grace_s: float = 30.0
    app_shutdown_s: float = 5.0
    restart_backoff_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Workload:
    kind: WorkloadKind = "Deployment"
    namespace: str = "istio-system"
    name: str = "istio-ingressgateway"
    replicas: int = 2
    place_on: tuple[str, ...] = ()
    max_surge: int = 1
    max_unavailable: int = 0
    controller_lag_s: Lag = CONTROLLER_LAG
    pod: PodSpec = PodSpec()


@dataclass(frozen=True, slots=True)
class App:
    enabled: bool = True
    namespace: str = "default"
    name: str = "app"
    replicas: int = 2
    port: int = 8080
    place_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EndpointSliceController:
    lag_s: Lag = CONTROLLER_LAG
    batch_s: float = 0.0
    max_endpoints_per_slice: int = 100


@dataclass(frozen=True, slots=True)
class ProxyConfigChange:
    """Another kube-proxy configuration on some nodes: their ProxyTerminatingEndpoints gate
    (recorder.sim.proxyconf). `at_s` null: theirs from the start (a node pool configured apart);
    else a rollout of the new configuration from `at_s`: kube-proxy on each of `nodes`, in
    order and `every_s` apart, restarts with it (kube-proxy exits when its config file changes
    and the DaemonSet's rolling update replaces its pods one by one)."""

    nodes: tuple[str, ...] = ()
    proxy_terminating_endpoints: bool = True
    at_s: float | None = None
    every_s: float = 0.0


@dataclass(frozen=True, slots=True)
class KubeProxy:
    lag_s: Lag = KUBE_PROXY_LAG
    proxy_terminating_endpoints: bool = False
    restart_s: Lag = KUBE_PROXY_RESTART
    #: kube-proxy's sync period (`--iptables-sync-period`, `syncPeriod`; default 30 s,
    #: pkg/proxy/apis/config/v1alpha1/defaults.go): its health timeout is twice this
    #: (recorder.sim.proxyhealth), past which a change not yet programmed makes it unhealthy
    sync_period_s: float = 30.0
    #: kube-proxy's minimum sync period (`iptables.minSyncPeriod`, `--iptables-min-sync-period`;
    #: v1alpha2's top-level `minSyncPeriod`): 1 s by default since 1.20 (kubernetes/kubernetes
    #: #92836, CHANGELOG-1.20: "Previously, it was 0"), 10 s in kube-up's GCE manifests. Only
    #: its /configz states it: the simulated lag stands for the whole wait (recorder.sim.syncspans)
    min_sync_period_s: float = 1.0
    #: KEP-3836 (KubeProxyDrainingTerminatingNodes): /healthz answers 503 with nodeEligible
    #: false for a node tainted ToBeDeletedByClusterAutoscaler or being deleted. None: by
    #: version (beta and on by default from 1.30; alpha, off, in 1.28-1.29; absent before)
    draining_terminating_nodes: bool | None = None
    #: the data plane on every node: what a NodePort connection gets where nothing local serves
    #: it (recorder.sim.proxyconf), and the `mode` its /configz names
    mode: ProxyMode = "iptables"
    #: IPVS only: the build carries kubernetes#97081 (a node with no local endpoint forwards to
    #: the cluster's, whose replies are discarded: a timeout) rather than refusing
    ipvs_local_fallback: bool = True
    #: configurations that set the gate apart on some nodes (ProxyConfigChange)
    configs: tuple[ProxyConfigChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Ccm:
    mode: CcmMode = "endpoint-driven"
    register_lag_s: Lag = CCM_REGISTER_LAG
    deregister_lag_s: Lag = CCM_DEREGISTER_LAG
    register_delay_s: float = 0.0
    exclude_unschedulable: bool = False
    #: skip (deregister) nodes tainted ToBeDeletedByClusterAutoscaler, as the AWS Load Balancer
    #: Controller's instance mode does (DESIGN.md section 6); node-driven only
    exclude_to_be_deleted: bool = True
    #: node-driven: which controller keeps the target group (recorder.sim.ccmnodes): the AWS
    #: Load Balancer Controller (Ready nodes only, every release) or the upstream service
    #: controller of the in-tree / cloud-provider CCMs (a NotReady node stays registered from
    #: 1.27, KEP-3458, and in 1.25.0-1.25.2 and 1.26.0-1.26.10)
    controller: CcmController = "aws-load-balancer-controller"
    #: Tencent TKE enable-grace-shutdown / enable-grace-deletion (recorder/sim/grace.py)
    grace_shutdown: bool = False
    grace_deletion: bool = False


@dataclass(frozen=True, slots=True)
class HealthCheck:
    interval_s: float = 10.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    listener: Listener = "http"
    deregistration_delay_s: float = 300.0
    health_check: HealthCheck = HealthCheck()
    account: str = "123456789012"
    region: str = "us-east-1"


@dataclass(frozen=True, slots=True)
class Kubelet:
    lag_s: Lag = KUBELET_LAG
    status_lag_s: Lag = STATUS_LAG
    delete_lag_s: Lag = DELETE_LAG


@dataclass(frozen=True, slots=True)
class Observe:
    kube_proxy_period_s: float = 1.0
    lb_poll_period_s: float = 5.0
    heartbeat_s: float = 60.0
    watch_delay_s: Lag = WATCH_DELAY
    probe_timeout_s: float = 1.0
    #: the prober's and the LB poller's clocks against the recorder's watch (seconds; + ahead)
    prober_clock_offset_s: float = 0.0
    poller_clock_offset_s: float = 0.0
    #: also probe kube-proxy's own /healthz (port 10256) on every node: ProxyNodeHealth
    kube_proxy_healthz: bool = False
    #: also scrape kube-proxy's /metrics: ProxyMetrics (recorder.sim.evidence)
    kube_proxy_metrics: bool = False
    #: seconds between those scrapes (the recorder's `metrics_interval_s`: deploy/'s node agent
    #: 15); 0 scrapes on the probe grid (every `kube_proxy_period_s`); never below that period
    kube_proxy_metrics_interval_s: float = 0.0
    #: also read kube-proxy's /configz once per node: ProxyConfig (recorder.sim.evidence)
    kube_proxy_configz: bool = False
    #: how often the prober reads /configz again after its first read (deploy/'s
    #: `configz_interval_s`): a configuration changed by a restart is stored at the next read
    kube_proxy_configz_interval_s: float = 600.0
    #: also emit the CCM's RegisterTargets / DeregisterTargets calls as CloudTrail's TargetChange
    cloudtrail: bool = False
    #: also emit the ALB's successful requests in-band (recorder.sim.alblog: a sample of them;
    #: the failed ones are emitted whenever `traffic.rps` > 0), as the `elb-access-log` importer
    #: stores a line; HTTP listeners only
    access_log: bool = False


@dataclass(frozen=True, slots=True)
class Traffic:
    rps: float = 0.0
    request_duration_s: float = 0.0
    access_log: bool = True


@dataclass(frozen=True, slots=True)
class Event:
    at_s: float
    action: Action
    workload: str = "ingress"
    node: str | None = None
    replicas: int | None = None
    every_s: float | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class Truth:
    settle_s: float = 120.0
    min_window_s: float = 0.001


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "seed-3node"
    description: str = ""
    cluster: str = "sim"
    start: str = "2026-01-01T00:00:00Z"
    duration_s: float = 600.0
    nodes: Nodes = Nodes()
    service: Service = Service()
    ingress: Workload = Workload()
    app: App = App()
    endpointslice: EndpointSliceController = EndpointSliceController()
    kube_proxy: KubeProxy = KubeProxy()
    ccm: Ccm = Ccm()
    lb: LoadBalancer = LoadBalancer()
    kubelet: Kubelet = Kubelet()
    observe: Observe = Observe()
    traffic: Traffic = Traffic()
    truth: Truth = Truth()
    events: tuple[Event, ...] = field(default_factory=tuple)

    def node_names(self) -> tuple[str, ...]:
        """The initial nodes' names: the given ones, else node-001, node-002, ..."""
        if self.nodes.names:
            return self.nodes.names
        return tuple(f"node-{i:03d}" for i in range(1, self.nodes.count + 1))


def params(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Every parameter, nested as in the YAML form, plus the seed."""
    data = asdict(scenario)
    data["seed"] = seed
    return data
