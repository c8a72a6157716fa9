"""kube-proxy's `/configz`: the part of its configuration replay reads. Pure.

kube-proxy registers its configuration with component-base's configz under
`kubeproxy.config.k8s.io` (cmd/kube-proxy/app/server.go, `configz.New(...GroupName)` and
`Set(config)`) and serves it on its metrics address (`metricsBindAddress`, 127.0.0.1:10249 by
default) as `json.Marshal` of the map name -> config. The config is the *internal* type
(pkg/proxy/apis/config), whose fields have no json tags: the keys are Go's field names
(`FeatureGates`, `Mode`, `ClientConnection.Kubeconfig`, ...), as a kind cluster's answer shows
(tests/fixtures/kubeproxy/raesene-kubeproxy-kind-configz.json). A versioned rendering
(`featureGates`, `mode`) is read the same way.

`FeatureGates` is the map the operator set (the config file's `featureGates`, or without a config
file the `--feature-gates` flag, which is "ignored if a config file is specified by --config"),
not the effective gates: kube-proxy applies it over the defaults with
`DefaultMutableFeatureGate.SetFromMap(o.config.FeatureGates)`, where `AllAlpha` / `AllBeta` set
every gate of that stage the map does not name. So a gate the map does not name runs at its
version's default.

Kept (and nothing else: the rest names files, hosts and addresses replay does not read):
- of `FeatureGates`, the entries `ProxyTerminatingEndpoints`, `AllAlpha` and `AllBeta` (what
  decides that gate: replay.gateconf), as stated; absent ones are absent;
- `Mode` (`iptables`, `ipvs`, `nftables`, `kernelspace`; empty: the platform's default,
  iptables on Linux): what a refused NodePort look means (replay.proxymode);
- the sync period the health server times out by, and the min sync period beside it, in
  seconds (None: not stated, or not Go duration text: recorder.godur). kube-proxy builds its
  health server with `2*config.IPTables.SyncPeriod.Duration` whatever the mode (server.go,
  `NewProxierHealthServer`, through 1.2x), and with `2*config.SyncPeriod.Duration` since the
  internal configuration carries the period at its top level: so the top-level `SyncPeriod`
  where the answer has one, else `IPTables.SyncPeriod` (replay.syncperiod reads the bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gapwatch.recorder.godur import parse_go_duration

#: The key kube-proxy's configuration is registered under (its API group's name).
GROUP = "kubeproxy.config.k8s.io"
#: The gate replay reads, and the two that set every unset gate of a stage.
PTE_GATE = "ProxyTerminatingEndpoints"
ALL_ALPHA = "AllAlpha"
ALL_BETA = "AllBeta"
KEPT_GATES = (PTE_GATE, ALL_ALPHA, ALL_BETA)
#: The kind cluster's answer is 2 KB pretty-printed (1.3 KB as kube-proxy sends it); a page
#: far larger is not kube-proxy's configuration.
MAX_CONFIGZ_BYTES = 256 * 1024


class ConfigzError(ValueError):
    """The body is not kube-proxy's /configz."""


def _field(config: Mapping[str, Any], name: str) -> Any:
    """A field by Go's name (the internal type) or its json tag (a versioned rendering)."""
    if name in config:
        return config[name]
    return config.get(name[0].lower() + name[1:])


def _period(config: Mapping[str, Any], name: str) -> float | None:
    """A sync period in seconds: the top-level field, else the IPTables one (module docstring);
    None where neither is Go duration text of a positive period."""
    iptables = config.get("IPTables", config.get("iptables"))  # the json tag is all lower case
    for where in (config, iptables if isinstance(iptables, Mapping) else {}):
        value = _field(where, name)
        if isinstance(value, str):
            seconds = parse_go_duration(value)
            if seconds is not None and seconds >= 0:
                return seconds
    return None


def parse_configz(raw: bytes) -> dict[str, Any]:
    """The kept part of one /configz answer: `{"feature_gates": {...}, "mode": str | None,
    "sync_period_s": float | None, "min_sync_period_s": float | None}`; ConfigzError when it
    is not kube-proxy's configuration."""
    if len(raw) > MAX_CONFIGZ_BYTES:
        raise ConfigzError(f"larger than {MAX_CONFIGZ_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigzError(f"not JSON: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise ConfigzError("not a JSON object")
    config = doc.get(GROUP)
    if not isinstance(config, dict):
        raise ConfigzError(f"no {GROUP} object (keys: {', '.join(sorted(doc)[:5]) or 'none'})")
    gates = _field(config, "FeatureGates")
    if gates is not None and not isinstance(gates, dict):
        raise ConfigzError("FeatureGates is not a mapping")
    kept = {
        name: value
        for name, value in (gates or {}).items()
        if name in KEPT_GATES and isinstance(value, bool)
    }
    mode = _field(config, "Mode")
    return {
        "feature_gates": kept,
        "mode": mode[:32] if isinstance(mode, str) else None,
        "sync_period_s": _period(config, "SyncPeriod"),
        "min_sync_period_s": _period(config, "MinSyncPeriod"),
    }
