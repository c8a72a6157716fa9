"""The named scenarios. Each is plain data in the YAML form, so a file may start from one
(`preset: seed-3node`) and change only what it needs."""

from __future__ import annotations

from typing import Any

SEED_3NODE: dict[str, Any] = {
    "name": "seed-3node",
    "description": (
        "The seed's cluster: NODE1-3, istio-ingressgateway pods on NODE1 and NODE2, app pods on "
        "NODE2 and NODE3, NodePort 32999, an ELB whose endpoint-driven CCM follows the "
        "EndpointSlices; one unmitigated rollout shows both seed races."
    ),
    "duration_s": 600,
    "nodes": {
        "count": 3,
        "names": ["NODE1", "NODE2", "NODE3"],
        "kubelet_version": "v1.25.16",
        "kube_proxy_version": "v1.25.16",
    },
    # A CCM manages load balancers only for type LoadBalancer: the seed's "NodePort 32999" is the
    # node port its ELB targets. (`service.type: NodePort` is supported: no HC port to probe.)
    "service": {"type": "LoadBalancer", "node_port": 32999, "health_check_node_port": 31805},
    "ingress": {
        "kind": "Deployment",
        "replicas": 2,
        "place_on": ["NODE1", "NODE2"],
        "max_surge": 1,
        "max_unavailable": 0,
        "pod": {"prestop_s": 0, "termination_grace_s": 30, "app_shutdown_s": 5},
    },
    "app": {"enabled": True, "replicas": 2, "place_on": ["NODE2", "NODE3"], "port": 8080},
    "kube_proxy": {
        "lag_s": {"p50": 2.0, "p90": 3.0, "max": 6.0},
        "proxy_terminating_endpoints": False,
    },
    "ccm": {
        "mode": "endpoint-driven",
        "register_lag_s": {"p50": 0.3, "p90": 0.6, "max": 1.0},
        "deregister_lag_s": {"p50": 4.0, "p90": 8.0, "max": 15.0},
        "register_delay_s": 0,
    },
    "lb": {"listener": "http", "deregistration_delay_s": 300},
    "traffic": {"rps": 50},
    "events": [{"at_s": 60, "action": "rollout", "workload": "ingress"}],
}

MITIGATED: dict[str, Any] = {
    "preset": "seed-3node",
    "name": "mitigated",
    "description": (
        "The seed cluster with ProxyTerminatingEndpoints on (kube-proxy 1.28) and a preStop sleep "
        "longer than the CCM's deregistration lag: closed-before-deregistered disappears. Add "
        "ccm.register_delay_s longer than kube-proxy's lag to close the other race too."
    ),
    "nodes": {"kubelet_version": "v1.28.15", "kube_proxy_version": "v1.28.15"},
    "kube_proxy": {"proxy_terminating_endpoints": True},
    "ingress": {"pod": {"prestop_s": 20, "termination_grace_s": 60, "app_shutdown_s": 5}},
}

AWS_NLB: dict[str, Any] = {
    "name": "aws-nlb",
    "description": (
        "An AWS NLB in instance mode as the AWS cloud provider's own service controller sets it "
        "up (node-driven CCM, `aws-load-balancer-type: nlb`): every node is a target, NotReady "
        "ones too from 1.27 (KEP-3458), and the NLB's health check on the healthCheckNodePort "
        "decides; a rollout, a drain, a node deletion and a new node."
    ),
    "duration_s": 1500,
    "nodes": {
        "count": 6,
        "names": [f"ip-10-0-1-{10 + i}.ec2.internal" for i in range(6)],
        "kubelet_version": "v1.29.10",
        "kube_proxy_version": "v1.29.10",
    },
    "service": {"type": "LoadBalancer", "node_port": 32999, "health_check_node_port": 31805},
    "ingress": {"kind": "Deployment", "replicas": 3, "max_surge": 1, "max_unavailable": 0},
    "kube_proxy": {"proxy_terminating_endpoints": True},
    "ccm": {
        "mode": "node-driven",
        "controller": "service-controller",
        "register_lag_s": {"p50": 1.0, "p90": 3.0, "max": 10.0},
    },
    "lb": {
        "listener": "tcp",
        "deregistration_delay_s": 300,
        "health_check": {"interval_s": 10, "healthy_threshold": 2, "unhealthy_threshold": 2},
    },
    "traffic": {"rps": 100},
    "events": [
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
        {"at_s": 500, "action": "drain", "node": "ip-10-0-1-10.ec2.internal"},
        {"at_s": 700, "action": "delete_node", "node": "ip-10-0-1-10.ec2.internal"},
        {"at_s": 900, "action": "add_node", "node": "ip-10-0-1-99.ec2.internal"},
        {"at_s": 1000, "action": "crash_pod", "workload": "ingress"},
    ],
}

LARGE: dict[str, Any] = {
    "name": "large",
    "description": (
        "300 nodes, a 40-replica ingress Deployment behind an endpoint-driven CCM, a rollout "
        "every 15 minutes, a node drain every 30 minutes and pod crashes for 24 hours (about 1.1M "
        "observations: the benchmark's workload)."
    ),
    "duration_s": 86400,
    "nodes": {"count": 300},
    "service": {"type": "LoadBalancer"},
    "ingress": {"kind": "Deployment", "replicas": 40, "max_surge": 10, "max_unavailable": 0},
    "app": {"enabled": True, "replicas": 60},
    "traffic": {"rps": 500},
    "events": [
        {"at_s": 300, "action": "rollout", "workload": "ingress", "every_s": 900, "count": 96},
        {"at_s": 600, "action": "drain", "node": "@random", "every_s": 1800, "count": 48},
        {"at_s": 1500, "action": "uncordon", "node": "@random", "every_s": 1800, "count": 48},
        {"at_s": 1000, "action": "crash_pod", "workload": "ingress", "every_s": 600, "count": 140},
    ],
}

AWS_NLB_LBC: dict[str, Any] = {
    "name": "aws-nlb-lbc",
    "description": (
        "An AWS NLB in instance mode as the AWS Load Balancer Controller sets it up for an "
        "eTP=Local Service (its annotations guide): HTTP health check on the healthCheckNodePort, "
        "interval 10 s, thresholds 3/3, deregistration delay 300 s. The ingress is a DaemonSet "
        "rolled with maxSurge 0 (the real controller's order: the new pod only after the old "
        "one is gone), then a drain and a node crash."
    ),
    "duration_s": 1200,
    "nodes": {
        "count": 4,
        "kubelet_version": "v1.29.10",
        "kube_proxy_version": "v1.29.10",
        "not_ready_after_s": 50,
    },
    "service": {"type": "LoadBalancer"},
    "ingress": {"kind": "DaemonSet", "max_surge": 0, "max_unavailable": 1},
    "kube_proxy": {"proxy_terminating_endpoints": True},
    "ccm": {"mode": "node-driven", "controller": "aws-load-balancer-controller"},
    "lb": {
        "listener": "tcp",
        "deregistration_delay_s": 300,
        "health_check": {"interval_s": 10, "healthy_threshold": 3, "unhealthy_threshold": 3},
    },
    "events": [
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
        {"at_s": 500, "action": "drain", "node": "node-002"},
        {"at_s": 800, "action": "node_down", "node": "node-003"},
    ],
}

GKE_L4: dict[str, Any] = {
    "preset": "aws-nlb-lbc",
    "name": "gke-l4",
    "description": (
        "A GKE L4 passthrough LB: health check interval 8 s, healthy after 1, unhealthy after 3 "
        "(24 s to steer away; GKE L4 health-check defaults); kube-proxy 1.30; a Deployment "
        "rollout. GKE's controllers keep a NotReady node a backend (the service controller "
        "from 1.27, KEP-3458; ingress-gce's VM_IP NEGs include unready nodes): only the health "
        "check takes the crashed node out."
    ),
    "nodes": {
        "kubelet_version": "v1.30.5",
        "kube_proxy_version": "v1.30.5",
        "cloud": "gcp",
        "zones": ["us-central1-a", "us-central1-b", "us-central1-c"],
    },
    "ingress": {"kind": "Deployment", "replicas": 3, "max_surge": 1, "max_unavailable": 0},
    "ccm": {"controller": "service-controller"},
    "lb": {"health_check": {"interval_s": 8, "healthy_threshold": 1, "unhealthy_threshold": 3}},
}

ALIBABA_SLB: dict[str, Any] = {
    "preset": "seed-3node",
    "name": "alibaba-slb",
    "description": (
        "Alibaba's CCM rewrites the vServer group whenever endpoints or nodes change "
        "(endpoint-driven); kube-proxy 1.24 (PTE off); a rollout and a drain."
    ),
    "nodes": {
        "kubelet_version": "v1.24.17",
        "kube_proxy_version": "v1.24.17",
        "cloud": "alibaba",
        # three zones of one region, as Alibaba's API names them (ApsaraDB for OceanBase's
        # DescribeZones example answers "cn-hangzhou-i,cn-hangzhou-j,cn-hangzhou-h"); which
        # three is our choice
        "zones": ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"],
    },
    "events": [
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
        {"at_s": 300, "action": "drain", "node": "NODE3"},
    ],
}

TENCENT_CLB: dict[str, Any] = {
    "preset": "seed-3node",
    "name": "tencent-clb",
    "description": (
        "Tencent TKE with local-svc-only-bind-node-with-pod: the CLB binds only nodes with a "
        "ready pod (endpoint-driven); kube-proxy 1.26 (PTE on by default)."
    ),
    "nodes": {
        "kubelet_version": "v1.26.15",
        "kube_proxy_version": "v1.26.15",
        "cloud": "tencent",
        "zones": ["100003", "100004", "100006"],
    },
    "kube_proxy": {"proxy_terminating_endpoints": True},
}

TENCENT_CLB_GRACE: dict[str, Any] = {
    "preset": "tencent-clb",
    "name": "tencent-clb-grace",
    "description": (
        "Tencent TKE with enable-grace-shutdown and enable-grace-deletion: a terminating pod's "
        "CLB weight goes to 0 and its deletion waits for it (recorder/sim/grace.py); kube-proxy "
        "1.24 (PTE off), where only the held deletion keeps the closing race shut; a rollout "
        "and a drain."
    ),
    "nodes": {"kubelet_version": "v1.24.17", "kube_proxy_version": "v1.24.17"},
    "kube_proxy": {"proxy_terminating_endpoints": False},
    "ccm": {"grace_shutdown": True, "grace_deletion": True},
    "events": [
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
        {"at_s": 300, "action": "drain", "node": "NODE2"},
    ],
}

SLOW_KUBE_PROXY: dict[str, Any] = {
    "preset": "seed-3node",
    "name": "slow-kube-proxy",
    "description": (
        "kube-proxy syncing slowly, as in a large cluster: lag p50 2 s, p90 10 s, up to 60 s "
        "(past 2x its 30 s sync period it reports itself unhealthy)."
    ),
    "kube_proxy": {"lag_s": {"p50": 2.0, "p90": 10.0, "max": 60.0}},
}

PRESETS: dict[str, dict[str, Any]] = {
    "seed-3node": SEED_3NODE,
    "mitigated": MITIGATED,
    "aws-nlb": AWS_NLB,
    "large": LARGE,
    "aws-nlb-lbc": AWS_NLB_LBC,
    "gke-l4": GKE_L4,
    "alibaba-slb": ALIBABA_SLB,
    "tencent-clb": TENCENT_CLB,
    "tencent-clb-grace": TENCENT_CLB_GRACE,
    "slow-kube-proxy": SLOW_KUBE_PROXY,
}
