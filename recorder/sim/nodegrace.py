"""The node controller's grace for a silent node (kube-controller-manager
`--node-monitor-grace-period`): how long after a node's last status (its kubelet gone quiet) the
controller sets its Ready condition Unknown (the Node NotReady, its pods not ready).

Its default by release: 40 s before 1.32, 50 s from 1.32 (kubernetes/kubernetes#126287, "The
default value for node-monitor-grace-period has been increased to 50s (earlier 40s)",
CHANGELOG-1.32 v1.32.0-alpha.2; the issue, kubernetes/kubernetes#121793: 40 s was too short for
the kubelet's retries across a 40 s apiserver-etcd keepalive timeout). The flag belongs to the
control plane; the simulator has one version per cluster, its nodes' (`nodes.kubelet_version`),
and reads the control plane's default from it. Replay assumes the larger
(replay.assumptions `node_grace_s`).
"""

from __future__ import annotations

from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.sim.validate import minor_version

#: the default before 1.32 and from 1.32 (seconds), and the first release with the second
GRACE_BEFORE_1_32_S = 40.0
GRACE_FROM_1_32_S = 50.0
GRACE_CHANGED_IN = 32


def default_grace_s(version: str) -> float:
    """`--node-monitor-grace-period`'s default in the release `version` (e.g. "v1.32.9"); an
    unreadable version gets the older default."""
    minor = minor_version(version)
    if minor is not None and minor >= GRACE_CHANGED_IN:
        return GRACE_FROM_1_32_S
    return GRACE_BEFORE_1_32_S


def not_ready_after_s(s: Scenario) -> float:
    """The scenario's grace: `nodes.not_ready_after_s` where set, else its version's default."""
    stated = s.nodes.not_ready_after_s
    return default_grace_s(s.nodes.kubelet_version) if stated is None else stated
