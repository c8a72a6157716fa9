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
        "An AWS NLB in instance mode (node-driven CCM): every Ready node is a target and the NLB's "
        "health check on the healthCheckNodePort decides; a rollout, a drain, a node deletion and "
        "a new node."
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
    "ccm": {"mode": "node-driven", "register_lag_s": {"p50": 1.0, "p90": 3.0, "max": 10.0}},
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

PRESETS: dict[str, dict[str, Any]] = {
    "seed-3node": SEED_3NODE,
    "mitigated": MITIGATED,
    "aws-nlb": AWS_NLB,
    "large": LARGE,
}
