"""The ProxyTerminatingEndpoints gate as `gapwatch assumptions` prints it: measured (from what
kube-proxy stated: its feature-gate metric, its /configz) or assumed (the version's default, or
the configured assumption). Read per node, as detection reads it (replay.proxy.gate_stated with a
node): the output says on how many nodes it was measured and what each stated. Pure."""

from __future__ import annotations

from gapwatch.replay import gateconf, sync_seen
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState
from gapwatch.replay.measure import Measured
from gapwatch.replay.proxy import gate_stated, versions_of

NAME = "proxy_terminating_endpoints"
ASSUMED = "on from kube-proxy 1.26 (KEP-1669: beta, on by default; GA 1.28), unless set"


def gate_reading(state: FoldState, cluster: str, settings: DetectSettings) -> Measured:
    """The gate detection reads for `cluster` (1 on, 0 off; None: not one value on every
    node): set as an assumption, else measured where kube-proxy stated it (each node's own
    statements, where they agree; `samples` counts them), else assumed by each node's version.
    Measured on some nodes only, the value is the one they state where every node stated it,
    else None, and the source names the nodes of each reading."""
    if settings.proxy_terminating_endpoints is not None:
        value = float(settings.proxy_terminating_endpoints)
        return Measured(NAME, value, 0, "set by `assumptions --set`")
    versions = versions_of(state, cluster)
    nodes = sorted(
        set(versions)
        | {node for (where, node) in state.syncs if where == cluster}
        | {node for (where, node) in state.proxy_confs if where == cluster}
    )
    by_node = {node: gate_stated(state, cluster, node) for node in nodes}
    read = {node: on for node, on in by_node.items() if on is not None}
    if not read:  # the versions' default, where they all have the same
        defaults = {float(v is None or v >= (1, 26)) for v in versions.values()}
        return Measured(NAME, defaults.pop() if len(defaults) == 1 else None, 0, ASSUMED)
    scrapes = sum(
        sync_seen.seen(state, where).stated for where in state.syncs if where[0] == cluster
    )
    configs = sum(1 for _ in gateconf.statements(state, cluster, versions))
    said = [
        f"{configs} /configz answer{'s' * (configs != 1)}" if configs else "",
        f"{scrapes} feature-gate metric scrape{'s' * (scrapes != 1)}" if scrapes else "",
    ]
    source = "kube-proxy's own statement: " + ", ".join(s for s in said if s)
    values = set(read.values())
    if len(read) == len(nodes) and len(values) == 1:
        return Measured(NAME, float(values.pop()), scrapes + configs, source)
    return Measured(NAME, None, scrapes + configs, f"{source}; {_per_node(by_node)}")


#: the nodes the output names of each reading (a large cluster's are counted, not all named)
_NAMED = 4


def _per_node(by_node: dict[str, bool | None]) -> str:
    """Which nodes stated the gate on, off, or nothing one (their version's default then)."""
    parts = []
    for label, value in (("on", True), ("off", False), ("not read, by version", None)):
        nodes = [node for node, on in by_node.items() if on is value]
        if nodes:
            named = ", ".join(nodes[:_NAMED]) + (", ..." if len(nodes) > _NAMED else "")
            parts.append(f"{label} on {len(nodes)} node{'s' * (len(nodes) != 1)} ({named})")
    return "per node: " + "; ".join(parts)
