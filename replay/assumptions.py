"""What detection assumes where the log does not measure: every number, named, in one place.

Each assumption has a default, a unit and the public source of the default (the upstream
code, KEP or cloud document it names); `ASSUMPTIONS` lists them for `gapwatch assumptions`,
docs/semantics.md and the projection record (replay_state rows `assume:NAME`). Where the log
measures a quantity, the measurement replaces the assumption (replay.proxy, replay.lags) and the
output says so (`Provenance` of the bound, `advise` notes). Values come from the defaults, the
config file (`assumptions:` mapping) or `gapwatch assumptions --set NAME=VALUE`. Units: seconds,
or a count. The engine works in integer microseconds (`seconds_us`). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

#: Microseconds per second (the engine's time unit is the microsecond).
US = 1_000_000
#: The largest value an assumption takes (seconds, a ratio or a count): a million, 11.6 days of
#: seconds where every default is seconds to minutes, and far inside the int64 micro-units the
#: projections record it in (1e308 overflowed them).
MAX_VALUE = 1_000_000


def seconds_us(seconds: float) -> int:
    """Seconds to integer microseconds (rounded)."""
    return round(seconds * US)


@dataclass(frozen=True)
class DetectSettings:
    """The assumptions detection uses (fields: see `ASSUMPTIONS` for unit and source).

    Its hash is computed once, kept beside the fields (not one of them): memo keys hold it and
    a refresh looks them up per node (a dataclass's own `__hash__` hashes the 24 fields' tuple
    on every look-up). Pickled by its fields, so the hash is computed again where it is loaded
    (string hashes differ between processes)."""

    proxy_lag_min_s: float = 0.0
    proxy_lag_max_s: float = 60.0
    ccm_lag_min_s: float = 0.0
    ccm_lag_max_s: float = 300.0
    hc_interval_s: float = 10.0
    hc_healthy_threshold: int = 3
    hc_unhealthy_threshold: int = 3
    watch_skew_s: float = 0.5
    pod_status_s: float = 3.0
    slice_lag_s: float = 1.0
    list_s: float = 1.0
    settle_s: float = 60.0
    match_window_s: float = 120.0
    lag_margin: float = 1.5
    node_grace_s: float = 50.0
    clock_skew_s: float = 0.0
    node_clock_s: float = 1.0
    clock_offset_max_s: float = 0.0
    sync_span_s: float = 1.0
    min_measurements: int = 5
    access_dispatch_s: float = 1.0
    access_clock_max_s: float = 30.0
    #: "endpoint" | "node"; None: decided from the LB data
    ccm_mode: str | None = None
    #: None: from the probes, else from the nodes' kube-proxy version
    proxy_terminating_endpoints: bool | None = None
    #: kube-proxy's mode where no /configz states it; None: iptables (replay.proxymode)
    proxy_mode: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self._values()))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]  # set by __post_init__, no field

    def __reduce__(self) -> tuple[type[DetectSettings], tuple[Any, ...]]:
        return (DetectSettings, self._values())

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def proxy_lag_s(self) -> tuple[float, float]:
        return (self.proxy_lag_min_s, self.proxy_lag_max_s)

    @property
    def ccm_lag_s(self) -> tuple[float, float]:
        return (self.ccm_lag_min_s, self.ccm_lag_max_s)


DEFAULTS = DetectSettings()


@dataclass(frozen=True, slots=True)
class Assumption:
    """One named assumption: its unit, what replaces it when the log measures it, its source."""

    name: str
    unit: str
    meaning: str
    source: str
    measured_by: str = ""


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "proxy_lag_min_s", "s",
        "least time from an EndpointSlice change to kube-proxy's rules reflecting it",
        "no lower bound is published: 0",
        "health-check-node-port / NodePort probes (kube-proxy-programming lag)",
    ),
    Assumption(
        "proxy_lag_max_s", "s",
        "most time from an EndpointSlice change to kube-proxy's rules reflecting it",
        "kube-proxy --iptables-sync-period defaults to 30 s and its health server reports "
        "unhealthy once a queued update is older than 2x that ("
        "healthCheckNodePort / serviceProxyHealthy): past 60 s kube-proxy says it is stuck",
        "health-check-node-port / NodePort probes (kube-proxy-programming lag); 2 x the "
        "syncPeriod every node's kube-proxy /configz states (replay.syncperiod)",
    ),
    Assumption(
        "ccm_lag_min_s", "s", "least time from an endpoint change to the LB target changing",
        "no lower bound is published: 0",
        "LB target polls (ccm-register / ccm-deregister lags)",
    ),
    Assumption(
        "ccm_lag_max_s", "s",
        "most time from an endpoint change to the LB target changing (endpoint-driven CCM)",
        "AWS support quotes 3-5 min for registration and deregistration to take effect "
        "(aws/containers-roadmap#470): 300 s",
        "LB target polls (ccm-register / ccm-deregister lags); service-controller Events",
    ),
    Assumption(
        "hc_interval_s", "s", "LB health-check interval (node-driven LB without target data)",
        "AWS Load Balancer Controller default for eTP=Local: interval 10 s",
        "target-group attributes (HealthCheckIntervalSeconds) polled, or CloudTrail "
        "Create/ModifyTargetGroup",
    ),
    Assumption(
        "hc_healthy_threshold", "count", "LB health checks to pass before routing",
        "AWS Load Balancer Controller default: 3",
        "target-group attributes (HealthyThresholdCount) polled, or CloudTrail "
        "Create/ModifyTargetGroup",
    ),
    Assumption(
        "hc_unhealthy_threshold", "count", "LB health checks to fail before stopping",
        "AWS Load Balancer Controller default: 3",
        "target-group attributes (UnhealthyThresholdCount) polled, or CloudTrail "
        "Create/ModifyTargetGroup",
    ),
    Assumption(
        "watch_skew_s", "s",
        "how much earlier an EndpointSlice update may be seen than the Pod update that caused "
        "it, and how much later the recorder's watch may deliver a change than kube-proxy's "
        "(an unseen gap's earlier start, replay.unseen.Unseen)",
        "no upstream figure (sig-scalability's watch-latency SLI has no SLO yet): gapwatch's "
        "choice, 0.5 s; widen it with `assumptions --set` for a slow apiserver",
        "objects' own write times (managedFields): how late a lane time lies after its "
        "stamp, per Service (replay.measure.watch_skew, used by detection)",
    ),
    Assumption(
        "pod_status_s", "s",
        "how long before the Pod update that says so a pod may have stopped (kubelet status "
        "write plus watch delay)",
        "no upstream bound: the kubelet notices a container's exit at its PLEG relist, every "
        "1 s (`genericPlegRelistPeriod`, pkg/kubelet/kubelet.go, which warns that a relist "
        "can take longer), and writes the status at once through its rate-limited API client "
        "(`--kube-api-qps`), else at its status manager's 10 s resync (`syncPeriod`, "
        "pkg/kubelet/status/status_manager.go): gapwatch's choice, 3 s, the relist period "
        "plus 2 s for the relist, the write and the watch; a finishedAt, where reported, "
        "replaces it",
    ),
    Assumption(
        "slice_lag_s", "s",
        "from a Pod update to the EndpointSlice that reflects it (EndpointSlice controller)",
        "kube-controller-manager --endpointslice-updates-batch-period defaults to 0 (no "
        "batching); no latency figure is published: gapwatch's choice, 1 s",
        "Pod and EndpointSlice watch times (both recorded)",
    ),
    Assumption(
        "list_s", "s",
        "how long the recorder's initial lists take (a lane's first value within it held "
        "before the recording)",
        "the recorder's own behaviour (list then watch, client-go's reflector): 1 s",
    ),
    Assumption(
        "settle_s", "s", "how long after a rollout's last old pod a window still belongs to it",
        "new flows were seen ~30-40 s after a target turned unhealthy ("
        "aws/containers-roadmap#470): 60 s",
    ),
    Assumption(
        "match_window_s", "s",
        "how long after an endpoint change a reaction counts as caused by it",
        "new flows were seen ~120 s after deregistration ("
        "aws/containers-roadmap#470): 120 s",
    ),
    Assumption(
        "lag_margin", "factor",
        "margin on the largest measured lag before it bounds what the samples cannot show",
        "gapwatch's choice: 1.5 (a measured lag is a sampled interval's midpoint)",
    ),
    Assumption(
        "node_grace_s", "s",
        "how long a node may have been down before its Node object turns NotReady",
        "kube-controller-manager --node-monitor-grace-period: 40 s before 1.32, 50 s from "
        "1.32 (kubernetes/kubernetes#126287; the larger)",
        "health-check-node-port probes (a timeout: the node does not answer)",
    ),
    Assumption(
        "clock_skew_s", "s",
        "how far the prober's, the LB poller's and the access logs' clocks may be off the "
        "recorder's watch (each sampled change's bounds widen by it on both sides, and so do "
        "the windows' bounds when failed access-log lines are counted in them)",
        "NTP keeps hosts within milliseconds: 0; set it for observers whose clocks are not "
        "synchronized (a postmortem from another team's logs)",
    ),
    Assumption(
        "node_clock_s", "s",
        "how far a node's clock may be off the API server's: a kubelet writes a container's "
        "finishedAt (whole seconds) on its node's clock, so a pod's own death time is taken as "
        "[finishedAt - this, finishedAt + 1 s + this) (replay.deaths)",
        "NTP (RFC 5905) keeps synchronized hosts within tens of milliseconds; Kubernetes "
        "requires no clock synchronization of nodes: gapwatch's choice, 1 s",
        "clipped to the Pod updates around the death (after the last that saw the pod up, by "
        "the one that reports it stopped)",
    ),
    Assumption(
        "sync_span_s", "s",
        "how long one kube-proxy rules sync may run where its pages do not say (no growth of "
        "kubeproxy_sync_proxy_rules_duration_seconds_sum over the syncs since an earlier look "
        "of the process, which bounds the last one's duration): a sync that ended this long "
        "after a change reached kube-proxy began after it (replay.syncs.began_by); the one "
        "sync between two looks changed the rules within this of its end (replay.synccount)",
        "kube-proxy starts a sync at most once per --iptables-min-sync-period (default 1 s, "
        "kube-proxy command-line reference); large clusters should raise it to their measured "
        "kubeproxy_sync_proxy_rules_duration_seconds",
    ),
    Assumption(
        "clock_offset_max_s", "s",
        "the largest offset searched for when estimating how far the prober's or the LB "
        "poller's clock is behind the recorder's (replay.clocks; 0 turns the estimate off)",
        "off (0) by default: a long tail of EndpointSlice watch delays mimics a clock behind "
        "(4 false estimates in 1,999 development scenarios, one certain false window); set "
        "it (e.g. 30) for observers whose clocks are not synchronized",
        "the offset itself is measured from reactions seen before their causes",
    ),
    Assumption(
        "access_dispatch_s", "s",
        "how long after an access-log line's request time the LB dispatched the request to "
        "its target (a failed line's race window held then; replay.logclock)",
        "ALB logs request_processing_time, the time to dispatch, as -1 when no target answered "
        "(ALB access-log entries guide), so it is unknown on exactly these lines: gapwatch's "
        "choice, 1 s (dispatching takes milliseconds)",
    ),
    Assumption(
        "access_clock_max_s", "s",
        "the largest offset searched for between an LB's access-log clock and the recorder's, "
        "from failed requests that lie outside every window of their node (replay.logclock; "
        "0 turns the estimate off)",
        "gapwatch's choice: 30 s (clocks not synchronized differ by seconds; ELB's own clocks "
        "are NTP-synchronized, so a larger gap is likelier a window detection missed)",
        "the offset itself is measured from failed access-log lines outside every window",
    ),
    Assumption(
        "ccm_mode", "endpoint|node|auto",
        "whether the LB follows EndpointSlices (endpoint) or health-checks every node (node)",
        "auto: node-driven when the LB reported health-check states (initial/unhealthy)",
        "LB target states",
    ),
    Assumption(
        "proxy_terminating_endpoints", "true|false|auto",
        "whether kube-proxy forwards to serving-terminating endpoints (KEP-1669)",
        "auto: on from kube-proxy 1.26 (beta, on by default), always from 1.28 (GA) "
        "",
        "kube-proxy's feature-gate metric (1.26+) and its /configz (replay.gateconf); NodePort "
        "probes that connect while the health check says no ready endpoint",
    ),
    Assumption(
        "proxy_mode", "iptables|nftables|ipvs|auto",
        "kube-proxy's mode: what a refused NodePort look means (iptables, nftables: rules "
        "forwarding to a local pod that is gone; ipvs: maybe no local endpoint, before "
        "kubernetes#97081)",
        "auto: from each node's NodePort looks where it surely had no local endpoint (refused: "
        "IPVS before #97081; timed out: not), else both readings, iptables first (kube-proxy's "
        "default on Linux: `--proxy-mode` blank, cmd/kube-proxy/app/server_linux.go); ipvs: "
        "the same looks say which IPVS (replay.modeshape)",
        "each node's /configz Mode (replay.proxymode)",
    ),
    Assumption(
        "min_measurements", "count",
        "measurements of a lag needed before they replace its assumed bound (fewer: the wider "
        "of the two)",
        "gapwatch's choice: 5 (below that a tail is unknown)",
    ),
)  # fmt: skip

#: What-if (replay.whatif) where a Service has no measurement of a lag: its typical value ...
WHATIF_TYPICAL_LAGS_S: dict[str, float] = {
    "kube-proxy-programming": 1.0,
    "ccm-register": 2.0,
    "ccm-deregister": 2.0,
    "lb-health-up": 15.0,
    "lb-health-down": 15.0,
}
#: ... and, with fewer than min_measurements of it, the worst case it assumes at least.
WHATIF_FEW_SAMPLES_WORST_S: dict[str, float] = {
    "kube-proxy-programming": 5.0,
    "ccm-register": 0.0,
    "ccm-deregister": 15.0,
    "lb-health-up": 0.0,
    "lb-health-down": 30.0,
}
#: The margin of the what-if worst case on the longest (shortest) measured lag.
WHATIF_WORST_MARGIN = 1.5
#: A slice update this soon after a pod update is taken as caused by it (what-if lag lookup).
WHATIF_SAME_CHANGE_S = 3.0
#: Where those come from (docs/semantics.md and `gapwatch assumptions` print these).
WHATIF_SOURCES: dict[str, str] = {
    "typical kube-proxy-programming 1 s": "kube-proxy --iptables-min-sync-period default 1 s",
    "typical ccm-register / ccm-deregister 2 s": "no public figure: gapwatch's choice",
    "typical lb-health-up / -down 15 s": "GKE L4: interval 8 s, unhealthy 3 = 24 s to steer "
    "away; AWS 10 s x 3 = 30 s: between the two",
    "few-samples worst case": "gapwatch's choice (kube-proxy 5 s, ccm-deregister 15 s, "
    "lb-health-down 30 s = AWS 10 s x 3); advise says when a number rests on it",
    "worst margin 1.5, same change 3 s": "gapwatch's choice",
}

_BY_NAME = {a.name: a for a in ASSUMPTIONS}
_TYPES = {f.name: f.type for f in fields(DetectSettings)}


def parse_assumptions(pairs: Iterable[str], base: DetectSettings = DEFAULTS) -> DetectSettings:
    """`NAME=VALUE` pairs (`gapwatch assumptions --set`) over `base`; ValueError names the bad
    pair."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE")
        values[name.strip()] = raw.strip()
    return with_values(values, base, origin="--set")


def with_values(
    values: Mapping[str, Any], base: DetectSettings = DEFAULTS, *, origin: str = "assumptions"
) -> DetectSettings:
    """`base` with the named values replaced (strings are parsed); ValueError on a bad name or
    value (the config file's `assumptions:` mapping and --assume both come here)."""
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        kind = _TYPES.get(name)
        if kind is None:
            known = ", ".join(sorted(_TYPES))
            raise ValueError(f"{origin}: {name}: unknown assumption (known: {known})")
        changes[name] = _convert(name, str(kind), raw, origin)
    return replace(base, **changes)


#: the values a text assumption takes (besides auto)
_CHOICES: dict[str, tuple[str, ...]] = {
    "ccm_mode": ("endpoint", "node"),
    "proxy_mode": ("iptables", "nftables", "ipvs"),
}


def _convert(name: str, kind: str, raw: Any, origin: str) -> Any:
    text = str(raw).strip().lower()
    if "bool" in kind:
        if text in ("", "none", "auto"):
            return None
        if text in ("true", "on", "1", "yes"):
            return True
        if text in ("false", "off", "0", "no"):
            return False
        raise ValueError(f"{origin}: {name}: expected true, false or auto, got {raw!r}")
    if "str" in kind:
        if text in ("", "none", "auto"):
            return None
        choices = _CHOICES[name]
        if text not in choices:
            expected = ", ".join(choices)
            raise ValueError(f"{origin}: {name}: expected {expected} or auto, got {raw!r}")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{origin}: {name}: expected a number, got {raw!r}") from None
    if not 0 <= number <= MAX_VALUE:  # nan fails both; 1e308 overflowed to_state (a traceback)
        raise ValueError(f"{origin}: {name}: must be a number from 0 to {MAX_VALUE:,}, got {raw!r}")
    if kind == "int":
        if number != int(number) or number < 1:
            raise ValueError(f"{origin}: {name}: expected a whole number >= 1, got {raw!r}")
        return int(number)
    return number


def describe(settings: DetectSettings = DEFAULTS) -> list[dict[str, Any]]:
    """Every assumption with its value in `settings`, default, unit and source (for output)."""
    out = []
    for a in ASSUMPTIONS:
        value = getattr(settings, a.name)
        out.append(
            {
                "name": a.name,
                "value": value,
                "default": getattr(DEFAULTS, a.name),
                "unit": a.unit,
                "meaning": a.meaning,
                "source": a.source,
                "measured_by": a.measured_by or None,
            }
        )
    return out


#: replay_state keys that record a projection's assumptions (values in micro-units: us, or a
#: count x 1e6), so a refresh keeps the settings its rebuild used and output can name them.
STATE_PREFIX = "assume:"
_FLAGS: dict[str, dict[Any, int]] = {
    "ccm_mode": {None: 0, "endpoint": 1, "node": 2},
    "proxy_terminating_endpoints": {None: 0, False: 1, True: 2},
    "proxy_mode": {None: 0, "iptables": 1, "nftables": 2, "ipvs": 3},
}


def to_state(settings: DetectSettings) -> dict[str, int]:
    """The settings as replay_state rows (key -> integer)."""
    out: dict[str, int] = {}
    for f in fields(DetectSettings):
        value = getattr(settings, f.name)
        if f.name in _FLAGS:
            out[STATE_PREFIX + f.name] = _FLAGS[f.name][value]
        else:
            out[STATE_PREFIX + f.name] = round(float(value) * US)
    return out


def from_state(rows: Mapping[str, int]) -> DetectSettings:
    """The settings recorded by `to_state` (missing keys: the defaults)."""
    changes: dict[str, Any] = {}
    for f in fields(DetectSettings):
        raw = rows.get(STATE_PREFIX + f.name)
        if raw is None:
            continue
        if f.name in _FLAGS:
            back = {v: k for k, v in _FLAGS[f.name].items()}
            changes[f.name] = back.get(raw)
        elif f.type == "int":
            changes[f.name] = round(raw / US)
        else:
            changes[f.name] = raw / US
    return replace(DEFAULTS, **changes)
