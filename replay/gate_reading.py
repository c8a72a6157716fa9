"""The ProxyTerminatingEndpoints gate as `gapwatch assumptions` prints it: measured (from what
kube-proxy stated: its feature-gate metric, its /configz) or assumed (the version's default, or
the configured assumption). Pure."""

from __future__ import annotations

from gapwatch.replay import gateconf
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState
from gapwatch.replay.measure import Measured
from gapwatch.replay.proxy import gate_stated, versions_of

NAME = "proxy_terminating_endpoints"
ASSUMED = "on from kube-proxy 1.26 (KEP-1669: beta, on by default; GA 1.28), unless set"


def gate_reading(state: FoldState, cluster: str, settings: DetectSettings) -> Measured:
    """The gate detection reads for `cluster` (1 on, 0 off; None: by each node's version): set
    as an assumption, else measured where kube-proxy stated it and every statement agrees
    (replay.proxy.gate_stated; `samples` counts them), else assumed."""
    if settings.proxy_terminating_endpoints is not None:
        value = float(settings.proxy_terminating_endpoints)
        return Measured(NAME, value, 0, "set by `assumptions --set`")
    stated = gate_stated(state, cluster)
    versions = versions_of(state, cluster)
    if stated is None:  # the versions' default, where they all have the same
        defaults = {float(v is None or v >= (1, 26)) for v in versions.values()}
        return Measured(NAME, defaults.pop() if len(defaults) == 1 else None, 0, ASSUMED)
    scrapes = sum(
        1
        for (where, _node), lane in state.syncs.items()
        if where == cluster
        for look in lane
        if look.pte_gate is not None
    )
    configs = sum(1 for _ in gateconf.statements(state, cluster, versions))
    said = [
        f"{configs} /configz answer{'s' * (configs != 1)}" if configs else "",
        f"{scrapes} feature-gate metric scrape{'s' * (scrapes != 1)}" if scrapes else "",
    ]
    source = "kube-proxy's own statement: " + ", ".join(s for s in said if s)
    return Measured(NAME, float(stated), scrapes + configs, source)
