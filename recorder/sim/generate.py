"""Randomized scenarios that can surprise the detector: `random_scenario(seed)` is plain data
for `from_dict` (the YAML form), different for every seed and the same for the same seed.

What varies: node count and Kubernetes version (PTE and its version rules), Service type, the
ingress workload (Deployment or DaemonSet, surge/unavailable, preStop, grace, shutdown), the CCM
mode (and a node-driven one's controller) and LB health check, the probe and poll periods, the
events (rollouts, drains, cordons, node crashes and deletions, new nodes, pod crashes, scaling,
cluster-autoscaler scale-downs), Tencent's grace shutdown/deletion, kube-proxy's /healthz and
sync period, and every lag. The lags are log-normal with no cap and a wide spread (p90 up to 8x
p50), so their tails run past any bound detection assumes: a run may have a kube-proxy, CCM,
EndpointSlice controller, kubelet or watch lag of minutes. Nothing here looks at the detector.
"""

from __future__ import annotations

import random
from typing import Any

from gapwatch.recorder.sim.nodegrace import default_grace_s

#: The base draw's releases, one slot each (the draw made since session 1; kept so that every
#: seed's other draws stay what they were).
_VERSIONS = ("v1.24.17", "v1.25.16", "v1.26.15", "v1.27.16", "v1.28.15", "v1.29.10", "v1.31.2")
#: The releases a base draw of 1.28 or later is spread over (`_release`, session 35): 1.28-1.35,
#: a released patch of each (only the minor matters here). As of the newest public sample
#: (../shared/samples, 2026-03-13) upstream supported 1.33, 1.34 and 1.35; 1.32 reached its end
#: of life on 2026-02-28 and 1.30 on 2025-07-15 (kubernetes.io/releases), and clusters on
#: managed services' extended support run older ones, as the 1.24-1.29 slots stand for. What
#: 1.32-1.35 change in what the simulator models: the node controller's grace, 50 s from 1.32
#: (recorder.sim.nodegrace); nothing else found (docs/simulator.md, "The releases drawn").
PTE_GA_VERSIONS = (
    "v1.28.15", "v1.29.10", "v1.30.14", "v1.31.2", "v1.32.9", "v1.33.10", "v1.34.5", "v1.35.2",
)  # fmt: skip


def _release(seed: int, drawn: str) -> str:
    """The cluster's release: `drawn` before 1.28; from 1.28 (PTE always on, so no other draw
    of the seed depends on which), one of PTE_GA_VERSIONS from a generator of its own."""
    if int(drawn.split(".")[1]) < 28:
        return drawn
    return random.Random(f"gapwatch-random-release-{seed}").choice(PTE_GA_VERSIONS)


def _lag(rng: random.Random, p50_lo: float, p50_hi: float, spread_hi: float) -> dict[str, Any]:
    """A heavy-tailed lag: p50 log-uniform in [p50_lo, p50_hi], p90 = p50 x [1.2, spread_hi],
    no cap (`max: null`: the log-normal's tail is unbounded)."""
    p50 = p50_lo * (p50_hi / p50_lo) ** rng.random()
    p90 = p50 * rng.uniform(1.2, spread_hi)
    return {"p50": round(p50, 4), "p90": round(p90, 4), "max": None}


def _pte(rng: random.Random, version: str) -> bool:
    """KEP-1669: always on from 1.28, on by default 1.26-1.27 (may be turned off), off before
    1.26 unless the alpha gate was enabled."""
    minor = int(version.split(".")[1])
    if minor >= 28:
        return True
    if minor >= 26:
        return rng.random() < 0.85
    return rng.random() < 0.15


def _grace(rng: random.Random, version: str) -> float:
    """The node controller's grace for a silent node: the control plane's default for `version`
    (40 s before 1.32, 50 s from 1.32: recorder.sim.nodegrace). Session 35 replaced a draw of
    40, 40 or 50 s whatever the version; the draw is still made, and thrown away, so that every
    later draw of the seed stays what it was."""
    rng.randrange(3)
    return default_grace_s(version)


def _events(rng: random.Random, nodes: list[str], duration: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kinds = ["rollout", "rollout", "drain", "cordon", "crash_pod", "node_down", "delete_node",
             "add_node", "scale", "uncordon", "restart_kube_proxy"]  # fmt: skip
    added = 0
    for _ in range(rng.randint(1, 5)):
        action = rng.choice(kinds)
        at = round(rng.uniform(40.0, duration * 0.7), 1)
        ev: dict[str, Any] = {"at_s": at, "action": action}
        if action in ("rollout", "crash_pod"):
            ev["workload"] = rng.choice(["ingress", "ingress", "ingress", "app"])
        elif action == "scale":
            ev["replicas"] = rng.randint(0, 4)
        elif action == "add_node":
            added += 1
            ev["node"] = f"node-new-{added}"
        else:
            ev["node"] = rng.choice([*nodes, "@random"])
        out.append(ev)
    return sorted(out, key=lambda e: e["at_s"])


def _extras(seed: int, data: dict[str, Any]) -> dict[str, Any]:
    """Behaviours added later, drawn from their own generator so that every earlier draw (and
    so each seed's base scenario) stays what it was: cluster-autoscaler scale-downs (with or
    without the LB controller skipping tainted nodes), kube-proxy's /healthz (KEP-3836), and on
    an endpoint-driven CCM Tencent's grace shutdown and grace deletion."""
    rng = random.Random(f"gapwatch-random-extras-{seed}")
    ccm, events = data["ccm"], data["events"]
    nodes = data["nodes"]["names"]
    ccm["exclude_to_be_deleted"] = rng.random() < 0.7
    if ccm["mode"] == "endpoint-driven":
        ccm["grace_shutdown"] = rng.random() < 0.3
        ccm["grace_deletion"] = rng.random() < 0.3
    data["observe"]["kube_proxy_healthz"] = rng.random() < 0.3
    if rng.random() < 0.35 and len(nodes) > 2:
        at = round(rng.uniform(40.0, data["duration_s"] * 0.7), 1)
        node = rng.choice([*nodes, "@random"])
        events.append({"at_s": at, "action": "scale_down", "node": node})
        events.sort(key=lambda e: e["at_s"])
    return data


#: Client requests per second through the LB with `observe.access_log` (log-uniform): from one
#: request a second (a quiet service) to 200 (eight of AWS's Load Balancer Capacity Units of new
#: connections, one LCU being 25 new connections per second: Elastic Load Balancing pricing).
ACCESS_RPS = (1.0, 200.0)


def with_access_log(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """`data` (a `random_scenario`) observed with the ALB's access log: `observe.access_log` and,
    for an HTTP listener (an NLB's TCP listener writes no such log), client traffic at a rate
    drawn from its own generator, so that the run's world (every other draw) is the same as
    without it. The failed requests are then drawn inside the true windows (recorder.sim.truth,
    from the traffic's own generator too) and a sample of the successes is logged
    (recorder.sim.alblog)."""
    data["observe"]["access_log"] = True
    if data["lb"]["listener"] == "http":
        rng = random.Random(f"gapwatch-random-traffic-{seed}")
        lo, hi = ACCESS_RPS
        data["traffic"] = {"rps": round(lo * (hi / lo) ** rng.random(), 2)}
    return data


#: How often `with_mixed_proxy` draws each of its behaviours (gapwatch's choice: frequent
#: enough that a thousand runs hold a few hundred of each, rare enough that most runs stay
#: the cluster every other figure measures)
MIXED_PROXY_P = 0.25


def with_mixed_proxy(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """`data` (a `random_scenario`) with kube-proxy's configuration mixed, drawn from its own
    generator so that every other draw of the run stays what it was (recorder.sim.proxyconf):

    - IPVS (`kube_proxy.mode`), with or without kubernetes#97081 (`ipvs_local_fallback`: not
      pinned to a release, so drawn);
    - on 1.24-1.27, where the gate can be set either way: the ProxyTerminatingEndpoints gate
      set apart on some nodes (`kube_proxy.configs`), either from the start (a node pool
      configured apart) or rolled out mid-run, kube-proxy restarting node by node with the
      new configuration 0-30 s apart (a DaemonSet rolling update's pace).

    Each is drawn with `MIXED_PROXY_P`; what was drawn is in the run's parameters."""
    rng = random.Random(f"gapwatch-random-mixed-proxy-{seed}")
    proxy = data["kube_proxy"]
    if rng.random() < MIXED_PROXY_P:
        proxy["mode"] = "ipvs"
        proxy["ipvs_local_fallback"] = rng.random() < 0.5
    minor = int(data["nodes"]["kube_proxy_version"].split(".")[1])
    if minor < 28 and rng.random() < MIXED_PROXY_P:
        nodes = list(data["nodes"]["names"])
        chosen = sorted(rng.sample(nodes, rng.randint(1, len(nodes))))
        config: dict[str, Any] = {
            "nodes": chosen,
            "proxy_terminating_endpoints": not proxy["proxy_terminating_endpoints"],
        }
        if rng.random() < 0.6:  # a rollout, else a node pool configured apart from the start
            config["at_s"] = round(rng.uniform(20.0, data["duration_s"] * 0.7), 1)
            config["every_s"] = round(rng.uniform(0.0, 30.0), 1)
        proxy["configs"] = [config]
    return data


#: kube-proxy's sync period (`syncPeriod`, `--iptables-sync-period`) per cluster, from what is
#: shipped (docs/simulator.md, "kube-proxy's sync period: what is shipped"): the upstream
#: default 30 s (pkg/proxy/apis/config/v1alpha1 and v1alpha2 defaults.go) wherever nothing sets
#: it (kubeadm, k3s, EKS's kube-proxy-config, AKS, whose APIs offer no period); 1 m where the
#: cluster came up by kube-up's GCE scripts (cluster/gce/gci/configure-helper.sh
#: `--iptables-sync-period=1m`, as GKE's kube-proxy manifests carry it); else one an operator set,
#: log-uniform 10 s-1 h in whole seconds (the span of the flag's examples, '5s', '1m', '2h22m').
#: No public source gives how many clusters are of each kind: both shares are stress choices,
#: parameters of `draw_sync_period`. The minimum sync period goes with the kind: kube-proxy's
#: default 1 s (v1alpha1 `iptables.minSyncPeriod` since 1.20, kubernetes/kubernetes#92836;
#: v1alpha2's `minSyncPeriod`) except under kube-up, whose manifests pass
#: `--iptables-min-sync-period=10s` beside the 1 m period (same script); an operator who set the
#: period is given the default (no source says they set both).
SYNC_PERIOD_DEFAULT_S = 30.0
SYNC_PERIOD_KUBE_UP_S = 60.0
MIN_SYNC_PERIOD_DEFAULT_S = 1.0
MIN_SYNC_PERIOD_KUBE_UP_S = 10.0
SYNC_PERIOD_KUBE_UP_P = 0.25
SYNC_PERIOD_SET_P = 0.1
SYNC_PERIOD_RANGE_S = (10.0, 3600.0)


def draw_sync_periods(
    rng: random.Random,
    *,
    kube_up_p: float = SYNC_PERIOD_KUBE_UP_P,
    set_p: float = SYNC_PERIOD_SET_P,
) -> tuple[float, float]:
    """One cluster's kube-proxy sync period and minimum sync period (seconds): a period set by
    an operator with `set_p` (log-uniform in SYNC_PERIOD_RANGE_S), kube-up's 1 m and 10 s with
    `kube_up_p`, else the defaults."""
    u = rng.random()
    if u < set_p:
        lo, hi = SYNC_PERIOD_RANGE_S
        return float(round(lo * (hi / lo) ** rng.random())), MIN_SYNC_PERIOD_DEFAULT_S
    if u < set_p + kube_up_p:
        return SYNC_PERIOD_KUBE_UP_S, MIN_SYNC_PERIOD_KUBE_UP_S
    return SYNC_PERIOD_DEFAULT_S, MIN_SYNC_PERIOD_DEFAULT_S


def draw_sync_period(
    rng: random.Random,
    *,
    kube_up_p: float = SYNC_PERIOD_KUBE_UP_P,
    set_p: float = SYNC_PERIOD_SET_P,
) -> float:
    """One cluster's kube-proxy sync period (seconds): `draw_sync_periods`' first."""
    return draw_sync_periods(rng, kube_up_p=kube_up_p, set_p=set_p)[0]


def with_sync_period(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """`data` with kube-proxy's sync periods drawn per cluster (`draw_sync_periods`) from their
    own generator (so every other draw stays what it was): its health timeout is twice the
    period (recorder.sim.proxyhealth) and its /configz states both (recorder.sim.evidence)."""
    rng = random.Random(f"gapwatch-random-sync-period-{seed}")
    proxy = data["kube_proxy"]
    proxy["sync_period_s"], proxy["min_sync_period_s"] = draw_sync_periods(rng)
    return data


#: The share of node-driven runs whose target group the upstream service controller keeps
#: (the in-tree / cloud-provider CCMs: AWS's own NLB support, GCE, Azure, ...); the others have
#: the AWS Load Balancer Controller's. No public source gives how many eTP=Local Services sit
#: behind each: a stress choice, half and half, so that both node sets are measured
#: (recorder.sim.ccmnodes).
SERVICE_CONTROLLER_P = 0.5


def with_ccm_controller(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """`data` with a node-driven CCM's controller drawn (`SERVICE_CONTROLLER_P`) from a generator
    of its own, so that every other draw of the run stays what it was; which nodes it keeps by
    release is recorder.sim.ccmnodes'. An endpoint-driven run draws nothing."""
    if data["ccm"]["mode"] == "node-driven":
        rng = random.Random(f"gapwatch-random-ccm-controller-{seed}")
        upstream = rng.random() < SERVICE_CONTROLLER_P
        data["ccm"]["controller"] = (
            "service-controller" if upstream else "aws-load-balancer-controller"
        )
    return data


def random_scenario(seed: int) -> dict[str, Any]:
    """One random scenario (the YAML form) for `seed`."""
    data = with_sync_period(_extras(seed, _base_scenario(seed)), seed)
    return with_ccm_controller(data, seed)


def _base_scenario(seed: int) -> dict[str, Any]:
    rng = random.Random(f"gapwatch-random-scenario-{seed}")
    count = rng.randint(2, 7)
    nodes = [f"node-{i:03d}" for i in range(1, count + 1)]
    version = _release(seed, rng.choice(_VERSIONS))
    node_driven = rng.random() < 0.45
    service_type = "LoadBalancer" if node_driven or rng.random() < 0.85 else "NodePort"
    daemonset = rng.random() < 0.3
    duration = float(rng.randint(300, 900))
    surge = rng.randint(0, 1)
    unavailable = 1 if surge == 0 else rng.randint(0, 1)
    prestop = rng.choice([0.0, 0.0, round(rng.uniform(1, 40), 1)])
    grace = max(rng.choice([30.0, 60.0, 10.0]), 1.0)
    hc = {
        "interval_s": float(rng.choice([5, 8, 10, 15, 30])),
        "healthy_threshold": rng.randint(2, 5),
        "unhealthy_threshold": rng.randint(2, 5),
    }
    kube_proxy_period = rng.choice([0.1, 0.5, 1.0, 2.0, 5.0])
    lb_poll = rng.choice([1.0, 2.0, 5.0, 10.0])
    return {
        "name": f"random-{seed}",
        "description": "randomized (recorder/sim/generate.py)",
        "duration_s": duration,
        "nodes": {
            "count": count,
            "names": nodes,
            "kubelet_version": version,
            "kube_proxy_version": version,
            "not_ready_after_s": _grace(rng, version),
        },
        "service": {"type": service_type},
        "ingress": {
            "kind": "DaemonSet" if daemonset else "Deployment",
            "replicas": rng.randint(1, min(4, count)),
            "max_surge": surge,
            "max_unavailable": unavailable,
            "controller_lag_s": _lag(rng, 0.02, 0.5, 6.0),
            "pod": {
                "start_s": _lag(rng, 0.5, 5.0, 4.0),
                "readiness_delay_s": _lag(rng, 0.2, 5.0, 4.0),
                "prestop_s": prestop,
                "termination_grace_s": grace,
                "app_shutdown_s": round(rng.uniform(0, 8), 1),
            },
        },
        "app": {"enabled": rng.random() < 0.5, "replicas": rng.randint(1, 3)},
        "endpointslice": {"lag_s": _lag(rng, 0.02, 1.0, 8.0)},
        "kube_proxy": {
            "lag_s": _lag(rng, 0.1, 8.0, 8.0),
            "proxy_terminating_endpoints": _pte(rng, version),
            "restart_s": _lag(rng, 1.0, 15.0, 4.0),
        },
        "ccm": {
            "mode": "node-driven" if node_driven else "endpoint-driven",
            "register_lag_s": _lag(rng, 0.1, 5.0, 6.0),
            "deregister_lag_s": _lag(rng, 0.5, 20.0, 6.0),
            "register_delay_s": rng.choice([0.0, 0.0, 0.0, round(rng.uniform(1, 20), 1)]),
        },
        "lb": {"listener": rng.choice(["http", "tcp"]), "health_check": hc},
        "kubelet": {
            "lag_s": _lag(rng, 0.05, 1.0, 6.0),
            "status_lag_s": _lag(rng, 0.05, 1.5, 6.0),
            "delete_lag_s": _lag(rng, 0.1, 2.0, 6.0),
        },
        "observe": {
            "kube_proxy_period_s": kube_proxy_period,
            "lb_poll_period_s": lb_poll,
            "watch_delay_s": _lag(rng, 0.005, 0.3, 8.0),
        },
        "traffic": {"rps": 0.0},
        "events": _events(rng, nodes, duration),
    }
