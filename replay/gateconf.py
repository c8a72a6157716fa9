"""The ProxyTerminatingEndpoints gate as kube-proxy's own configuration sets it (its /configz,
recorder/sources/kubeproxy/configz.py), per node. Pure.

The configuration's `FeatureGates` is what the operator set, applied over the defaults with
component-base's `SetFromMap` (cmd/kube-proxy/app, `Complete`): a gate the map names is that
value; else `AllAlpha` / `AllBeta` set every gate of that stage the map does not name
(featuregate's special gates); else the gate runs at its version's default. The gate's stages
(KEP-1669; DESIGN.md section 6): alpha 1.22-1.25 (off by default), beta 1.26-1.27 (on by
default), GA from 1.28 (locked on: a configuration cannot turn it off, kube-proxy refuses to
start), none before 1.22. So on a node whose kube-proxy version is known, its configuration
*measures* the gate, default included: nothing configured turns it means the default is in
force, which the version alone only makes likely on 1.26-1.27 (and, before, off unless
enabled).

Where the version is unknown, only a gate the map names states it. From 1.28 (GA) and before
1.22 (no gate) the configuration states nothing (the version rules decide: replay.proxy).

Read per node (replay.proxy.gate_stated with a node): a node's own statements decide its gate,
as its kube-proxy ran with its own configuration (a rollout of a new one restarts the DaemonSet's
pods one node at a time; a node pool may run another version). A node with none, or whose own
statements differ over the log (restarted with another configuration: which one a window saw
is not read), falls back to the probes' evidence and the version rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from gapwatch.replay.fold import ConfLook, FoldState


def configured(look: ConfLook, version: tuple[int, int] | None) -> bool | None:
    """The gate on a node whose /configz said `look`, its kube-proxy at `version` (module
    docstring); None when the configuration does not decide it."""
    if version is None:
        return look.pte
    if version >= (1, 28) or version < (1, 22):
        return None
    if look.pte is not None:
        return look.pte
    beta = version >= (1, 26)
    every = look.all_beta if beta else look.all_alpha
    return every if every is not None else beta


def statements(
    state: FoldState, cluster: str, versions: dict[str, tuple[int, int] | None]
) -> Iterator[bool]:
    """Every gate the cluster's stored configurations state (one per stored /configz answer
    that decides it; `versions`: each node's kube-proxy version)."""
    for (where, node), looks in state.proxy_confs.items():
        if where != cluster:
            continue
        version = versions.get(node)
        for look in looks:
            found = configured(look, version)
            if found is not None:
                yield found
