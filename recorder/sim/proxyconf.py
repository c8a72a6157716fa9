"""kube-proxy's configuration per node, and what its data plane does with a NodePort connection
that no local pod serves. Pure: recorder.sim.kubeproxy holds the state, this says what it means.

The gate per node. `kube_proxy.proxy_terminating_endpoints` is every node's
ProxyTerminatingEndpoints gate unless a `kube_proxy.configs` entry sets it apart: from the start
(`at_s` null: a node pool whose kube-proxy runs another configuration) or from a rollout of a
new configuration (kube-proxy exits when its config file changes, cmd/kube-proxy/app's file
watcher, and the DaemonSet's rolling update restarts it node by node: `restarts`). The gate is
the process's: a restart is what changes it.

What a connection to the NodePort gets where the node forwards to no pod that serves
(`refuses`; the prober's NodePort look and the truth's failed requests):

- rules that forward to a local pod that is gone: the packets reach no socket, refused or
  reset (as before this module);
- no usable endpoint of the Service anywhere in the cluster: iptables and nftables REJECT
  (pkg/proxy/iptables/proxier.go: `externalTrafficFilterTarget = "REJECT"`, `"... has no
  endpoints"`, where CategorizeEndpoints' `hasAnyEndpoints` is false); IPVS has no real server
  for the virtual service, and the kernel answers ICMP port unreachable (Linux
  net/netfilter/ipvs/ip_vs_core.c, `ip_vs_leave`): refused either way;
- usable endpoints elsewhere only: iptables and nftables DROP (`"... has no local endpoints"`):
  a timeout; IPVS with kubernetes#97081 (pkg/proxy/ipvs/proxier.go, syncEndpoint: "Traffic
  from an external source will be routed but the reply will have the POD address and will be
  discarded") a timeout too; IPVS without it had no real server there: refused
  (`kube_proxy.ipvs_local_fallback`, drawn, not pinned to a release: the PR was still in review
  on 2022-03-03, so no release before 1.24 carries it).

"Usable" is pkg/proxy/topology.go's pre-scan for a Local policy (`usable_anywhere`): a ready
endpoint, or a serving-terminating one. The simulator counts the latter only where the node's
gate is on (`has_any`): before the gate went GA kube-proxy read terminating endpoints only with
it (the 1.22-1.23 iptables proxier's pre-scan tests the gate; from 1.28 it is always on).
"""

from __future__ import annotations

from collections.abc import Iterable

from gapwatch.recorder.sim.scenario import KubeProxy, Scenario
from gapwatch.recorder.sim.state import Endpoint
from gapwatch.recorder.sim.validate import minor_version

#: (a ready endpoint anywhere, a serving-terminating one anywhere), as a sync last saw them
Anywhere = tuple[bool, bool]


def initial_gate(proxy: KubeProxy, node: str) -> bool:
    """The gate kube-proxy on `node` starts with: the run's, or a from-the-start config's."""
    gate = proxy.proxy_terminating_endpoints
    for config in proxy.configs:
        if config.at_s is None and node in config.nodes:
            gate = config.proxy_terminating_endpoints
    return gate


def restarts(proxy: KubeProxy) -> list[tuple[float, str, bool]]:
    """(seconds, node, the new gate) of every rollout's restart, in time order."""
    out = [
        (config.at_s + i * config.every_s, node, config.proxy_terminating_endpoints)
        for config in proxy.configs
        if config.at_s is not None
        for i, node in enumerate(config.nodes)
    ]
    return sorted(out, key=lambda r: r[0])


def usable_anywhere(endpoints: Iterable[Endpoint]) -> Anywhere:
    """Whether the Service's published endpoints hold a ready one, and a serving-terminating
    one (CategorizeEndpoints' pre-scan)."""
    ready = serving_terminating = False
    for ep in endpoints:
        if ep.ready:
            ready = True
        elif ep.serving and ep.terminating:
            serving_terminating = True
    return ready, serving_terminating


def has_any(anywhere: Anywhere, gate: bool) -> bool:
    """`hasAnyEndpoints` of a kube-proxy whose gate is `gate` (module docstring)."""
    ready, serving_terminating = anywhere
    return ready or (gate and serving_terminating)


def refuses(*, forwards: bool, anywhere: Anywhere, gate: bool, mode: str, fallback: bool) -> bool:
    """A NodePort connection to a running node that serves it no pod is refused (else
    dropped: a timeout), for a node whose last sync programmed `forwards` (rules to local
    endpoints) and saw `anywhere` (module docstring)."""
    if forwards or not has_any(anywhere, gate):
        return True
    return mode == "ipvs" and not fallback


def problems(s: Scenario) -> list[tuple[str, str]]:
    """What `kube_proxy.configs` and the /configz interval must satisfy (validate.py)."""
    out: list[tuple[str, str]] = []
    minor = minor_version(s.nodes.kube_proxy_version or s.nodes.kubelet_version)
    names = set(s.node_names()) | {e.node for e in s.events if e.action == "add_node"}
    if s.observe.kube_proxy_configz_interval_s <= 0:
        out.append(("observe.kube_proxy_configz_interval_s", "must be > 0"))
    for i, config in enumerate(s.kube_proxy.configs):
        key = f"kube_proxy.configs[{i}]"
        if not config.nodes:
            out.append((f"{key}.nodes", "must list at least one node"))
        for j, node in enumerate(config.nodes):
            if node not in names:
                out.append((f"{key}.nodes[{j}]", f"unknown node {node!r}"))
        if config.at_s is not None and config.at_s < 0:
            out.append((f"{key}.at_s", "must be >= 0"))
        if config.every_s < 0:
            out.append((f"{key}.every_s", "must be >= 0"))
        if minor is not None and minor >= 28 and not config.proxy_terminating_endpoints:
            out.append(
                (
                    f"{key}.proxy_terminating_endpoints",
                    "ProxyTerminatingEndpoints is GA and always on from kube-proxy v1.28",
                )
            )
    return out
