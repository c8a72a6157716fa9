"""Checks of a built Scenario that types alone cannot express (ranges, references, consistency)."""

from __future__ import annotations

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sim.scenario import Scenario


def check_scenario(s: Scenario, origin: str) -> None:
    """Raise ConfigError naming the first wrong key; return quietly when the scenario is sound."""
    problems = list(_problems(s))
    if problems:
        key, message = problems[0]
        raise ConfigError(f"{origin}: {key}: {message}")


def _problems(s: Scenario) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            out.append((key, message))

    need(s.duration_s > 0, "duration_s", "must be > 0")
    need(bool(s.cluster), "cluster", "must not be empty")
    need(s.nodes.count >= 1, "nodes.count", "must be >= 1")
    if s.nodes.names:
        need(len(s.nodes.names) == s.nodes.count, "nodes.names", "must list nodes.count names")
        need(len(set(s.nodes.names)) == len(s.nodes.names), "nodes.names", "names must be unique")
    need(bool(s.nodes.zones), "nodes.zones", "must list at least one zone")
    need(s.nodes.ready_after_s >= 0, "nodes.ready_after_s", "must be >= 0")
    grace = s.nodes.not_ready_after_s
    need(grace is None or grace >= 0, "nodes.not_ready_after_s", "must be >= 0")
    need(s.nodes.eviction_after_s >= 0, "nodes.eviction_after_s", "must be >= 0")
    for key, port in (
        ("service.node_port", s.service.node_port),
        ("service.health_check_node_port", s.service.health_check_node_port),
    ):
        need(1024 <= port <= 65535, key, "must be in 1024-65535 (the seed uses 32999)")
    need(
        s.service.node_port != s.service.health_check_node_port,
        "service.health_check_node_port",
        "must differ from service.node_port",
    )
    need(1 <= s.service.port <= 65535, "service.port", "must be in 1-65535")
    names = set(s.node_names())
    for section, workload_place in (("ingress", s.ingress.place_on), ("app", s.app.place_on)):
        for i, node in enumerate(workload_place):
            need(node in names, f"{section}.place_on[{i}]", f"unknown node {node!r}")
    w = s.ingress
    need(w.replicas >= 0, "ingress.replicas", "must be >= 0")
    need(w.max_surge >= 0, "ingress.max_surge", "must be >= 0")
    need(w.max_unavailable >= 0, "ingress.max_unavailable", "must be >= 0")
    need(
        w.max_surge + w.max_unavailable >= 1,
        "ingress.max_unavailable",
        "max_surge and max_unavailable cannot both be 0",
    )
    if w.kind == "DaemonSet":
        need(w.max_surge <= 1, "ingress.max_surge", "a DaemonSet surges at most 1 pod per node")
    p = w.pod
    need(p.prestop_s >= 0, "ingress.pod.prestop_s", "must be >= 0")
    need(p.termination_grace_s >= 0, "ingress.pod.termination_grace_s", "must be >= 0")
    need(p.app_shutdown_s >= 0, "ingress.pod.app_shutdown_s", "must be >= 0")
    need(p.restart_backoff_s >= 0, "ingress.pod.restart_backoff_s", "must be >= 0")
    need(s.app.replicas >= 0, "app.replicas", "must be >= 0")
    need(s.endpointslice.batch_s >= 0, "endpointslice.batch_s", "must be >= 0")
    need(
        1 <= s.endpointslice.max_endpoints_per_slice <= 1000,
        "endpointslice.max_endpoints_per_slice",
        "must be in 1-1000",
    )
    need(s.kube_proxy.sync_period_s > 0, "kube_proxy.sync_period_s", "must be > 0")
    need(s.kube_proxy.min_sync_period_s >= 0, "kube_proxy.min_sync_period_s", "must be >= 0")
    need(s.ccm.register_delay_s >= 0, "ccm.register_delay_s", "must be >= 0")
    hc = s.lb.health_check
    need(hc.interval_s > 0, "lb.health_check.interval_s", "must be > 0")
    # GKE's L4 health check turns healthy after 1 success; ELBv2 allows 2-10
    need(1 <= hc.healthy_threshold <= 10, "lb.health_check.healthy_threshold", "must be in 1-10")
    need(
        2 <= hc.unhealthy_threshold <= 10, "lb.health_check.unhealthy_threshold", "must be in 2-10"
    )
    need(s.lb.deregistration_delay_s >= 0, "lb.deregistration_delay_s", "must be >= 0")
    o = s.observe
    need(o.kube_proxy_period_s > 0, "observe.kube_proxy_period_s", "must be > 0")
    need(o.lb_poll_period_s > 0, "observe.lb_poll_period_s", "must be > 0")
    need(
        o.heartbeat_s >= max(o.kube_proxy_period_s, o.lb_poll_period_s),
        "observe.heartbeat_s",
        "must be >= the probe and poll periods",
    )
    need(o.probe_timeout_s > 0, "observe.probe_timeout_s", "must be > 0")
    need(
        o.kube_proxy_metrics_interval_s >= 0,
        "observe.kube_proxy_metrics_interval_s",
        "must be >= 0",
    )
    need(s.traffic.rps >= 0, "traffic.rps", "must be >= 0")
    need(s.traffic.request_duration_s >= 0, "traffic.request_duration_s", "must be >= 0")
    need(
        s.ccm.mode == "endpoint-driven" or s.service.type == "LoadBalancer",
        "service.type",
        "a node-driven CCM health-checks the healthCheckNodePort: needs type LoadBalancer",
    )
    version = minor_version(s.nodes.kube_proxy_version or s.nodes.kubelet_version)
    need(version is not None, "nodes.kube_proxy_version", "expected a version like v1.28.3")
    need(
        version is None or version < 28 or s.kube_proxy.proxy_terminating_endpoints,
        "kube_proxy.proxy_terminating_endpoints",
        "ProxyTerminatingEndpoints is GA and always on from kube-proxy v1.28 "
        f"(nodes.kube_proxy_version is {s.nodes.kube_proxy_version or s.nodes.kubelet_version})",
    )
    need(
        s.nodes.scale_down_delete_after_s >= 0,
        "nodes.scale_down_delete_after_s",
        "must be >= 0",
    )
    need(
        version is None or version >= 28 or not s.kube_proxy.draining_terminating_nodes,
        "kube_proxy.draining_terminating_nodes",
        "KEP-3836 exists from kube-proxy v1.28 (alpha; beta and on by default from v1.30)",
    )
    need(s.truth.settle_s >= 0, "truth.settle_s", "must be >= 0")
    need(s.truth.min_window_s >= 0, "truth.min_window_s", "must be >= 0")
    for i, ev in enumerate(s.events):
        key = f"events[{i}]"
        need(ev.at_s >= 0, f"{key}.at_s", "must be >= 0")
        need(ev.count >= 1, f"{key}.count", "must be >= 1")
        if ev.count > 1:
            need(
                ev.every_s is not None and ev.every_s > 0,
                f"{key}.every_s",
                "must be > 0 when count > 1",
            )
        need(ev.workload in ("ingress", "app"), f"{key}.workload", "must be ingress or app")
        if ev.action == "scale":
            need(ev.replicas is not None and ev.replicas >= 0, f"{key}.replicas", "must be >= 0")
        if ev.action in (
            "drain",
            "cordon",
            "uncordon",
            "delete_node",
            "node_down",
            "restart_kube_proxy",
            "scale_down",
        ):
            need(ev.node is not None, f"{key}.node", f"required for {ev.action}")
        if ev.node is not None and ev.action != "add_node" and not ev.node.startswith("@"):
            need(ev.node in names or _added(s, ev.node), f"{key}.node", f"unknown node {ev.node!r}")
    from gapwatch.recorder.sim.proxyconf import problems as proxy_problems

    return out + proxy_problems(s)


def minor_version(version: str) -> int | None:
    """The minor version of `v1.MINOR.PATCH` (None when it is not one)."""
    parts = version.lstrip("v").split(".")
    if len(parts) < 2 or parts[0] != "1" or not parts[1].isdigit():
        return None
    return int(parts[1])


def _added(s: Scenario, node: str) -> bool:
    return any(e.action == "add_node" and e.node == node for e in s.events)
