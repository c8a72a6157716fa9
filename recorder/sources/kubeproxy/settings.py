"""The prober's settings, each default with where it comes from.

Built from the `kube-proxy:` section of the recorder's configuration, or from `gapwatch probe`'s
options. Unknown keys and out-of-range values raise ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gapwatch.recorder.errors import ConfigError

#: kube-proxy serves /healthz and /livez here (`--healthz-bind-address`, default 0.0.0.0:10256).
KUBE_PROXY_HEALTHZ_PORT = 10256
#: kube-proxy serves /metrics here (`--metrics-bind-address`, default 127.0.0.1:10249: reachable
#: only from the node itself, hence the node-local agent).
KUBE_PROXY_METRICS_PORT = 10249
#: Header kube-proxy 1.28+ adds to the health-check answer (pkg/proxy/healthcheck).
WEIGHT_HEADER = "X-Load-Balancing-Endpoint-Weight"
#: The fastest look the issue allows (small clusters).
MIN_INTERVAL_S = 0.1
#: The largest body we keep: kube-proxy's is about 100 bytes; anything bigger is not kube-proxy.
MAX_BODY_BYTES = 4096
NODEPORT_MODES = ("fallback", "always", "never")


@dataclass(frozen=True, slots=True)
class ProberSettings:
    """See docs/kubeproxy.md for every key."""

    #: Seconds between two looks at one target. 1 s by default (the issue): an LB health check
    #: runs every 5-10 s (AWS LB Controller 10 s, GKE 8 s), so 1 s bounds are 5-10x finer.
    interval_s: float = 1.0
    #: Per-look timeout. Kept below the interval so bounds stay within interval + timeout; GKE's
    #: own L4 health check uses 1 s.
    timeout_s: float = 0.5
    #: A look at each target's unchanged state is stored at least this often (the issue: 60 s).
    heartbeat_s: float = 60.0
    #: Random fraction of the interval used as each target's phase (spreads the load).
    jitter: float = 1.0
    #: At most this many looks in flight (one shared HTTP client).
    concurrency: int = 256
    #: "fallback": NodePort connect only where a Service has no healthCheckNodePort; "always":
    #: also where it has one (tells "forwards" from "says it has endpoints"); "never".
    nodeport: str = "fallback"
    #: Check that a NodePort look sees what the LB sees (selfcheck.py): where it does not, store
    #: a NodePortSelfCheck and stop the cluster's NodePort looks.
    nodeport_selfcheck: bool = True
    #: How long the EndpointSlices must have listed no endpoint on a node before a NodePort look
    #: there counts as a proof: kube-proxy calls itself unhealthy past 60 s without a sync
    #: (2 x its 30 s --iptables-sync-period), so by then its rules have dropped the endpoint.
    nodeport_selfcheck_settle_s: float = 60.0
    #: Look at kube-proxy's /healthz and /livez (port below) too.
    proxy_healthz: bool = True
    healthz_port: int = KUBE_PROXY_HEALTHZ_PORT
    #: Scrape kube-proxy's metrics (seconds between scrapes; 0 = off).
    metrics_interval_s: float = 0.0
    metrics_port: int = KUBE_PROXY_METRICS_PORT
    #: Read kube-proxy's /configz on the metrics port (seconds between reads; 0 = off): its
    #: ProxyTerminatingEndpoints gate as configured (configz.py). The configuration changes only
    #: with a new kube-proxy process (it exits when its config file changes), so a read every
    #: 10 minutes in the node agent costs one small GET per node.
    configz_interval_s: float = 0.0
    #: Probe every node through this address instead of its own (the node-local agent: 127.0.0.1).
    address_override: str | None = None
    #: Only this node (the node-local agent sets it from the downward API's spec.nodeName).
    only_node: str | None = None
    #: Node address types to use, in order of preference (Node status.addresses).
    address_types: tuple[str, ...] = ("InternalIP", "ExternalIP")

    def __post_init__(self) -> None:
        if not MIN_INTERVAL_S <= self.interval_s <= 3600:
            raise ConfigError(f"kube-proxy.interval_s: must be {MIN_INTERVAL_S}..3600")
        if not 0 < self.timeout_s <= 60:
            raise ConfigError("kube-proxy.timeout_s: must be above 0 and at most 60")
        if self.heartbeat_s < self.interval_s:
            raise ConfigError("kube-proxy.heartbeat_s: must be at least interval_s")
        if not 0 <= self.jitter <= 1:
            raise ConfigError("kube-proxy.jitter: must be 0..1")
        if not 1 <= self.concurrency <= 10_000:
            raise ConfigError("kube-proxy.concurrency: must be 1..10000")
        if self.nodeport not in NODEPORT_MODES:
            raise ConfigError(f"kube-proxy.nodeport: one of {', '.join(NODEPORT_MODES)}")
        if not 0 <= self.nodeport_selfcheck_settle_s <= 3600:
            raise ConfigError("kube-proxy.nodeport_selfcheck_settle_s: must be 0..3600")
        if self.metrics_interval_s and self.metrics_interval_s < self.interval_s:
            raise ConfigError("kube-proxy.metrics_interval_s: 0 (off) or at least interval_s")
        if self.configz_interval_s and not self.interval_s <= self.configz_interval_s <= 86400:
            raise ConfigError("kube-proxy.configz_interval_s: 0 (off) or interval_s..86400")
        for key in ("healthz_port", "metrics_port"):
            if not 1 <= getattr(self, key) <= 65535:
                raise ConfigError(f"kube-proxy.{key}: a TCP port, 1..65535")


def parse_settings(values: Mapping[str, Any]) -> ProberSettings:
    """ProberSettings from a configuration mapping; ConfigError names a bad key."""
    if not isinstance(values, Mapping):
        raise ConfigError("kube-proxy: expected a mapping")
    names = {f.name for f in dataclasses.fields(ProberSettings)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"kube-proxy: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})"
        )
    given = dict(values)
    if "address_types" in given:
        given["address_types"] = tuple(given["address_types"])
    try:
        return ProberSettings(**given)
    except TypeError as exc:
        raise ConfigError(f"kube-proxy: {exc}") from exc
