"""A local pod's death its kubelet reported late, on a node no probe looked at: did kube-proxy
surely forward to it when it died? (docs/semantics.md, "Certain classes without any probe, the
twenty-third set (session 40, branch s40-noprobeclass)").

Without any kube-proxy probe F is inferred from the endpoints and the local pods' own lanes; a
crash or a terminating pod's exit its kubelet reported (finishedAt) inside a window's start
range opens the window as the pod's death (`pod-gone-before-deregistered`) only where kube-proxy
surely forwarded to the pod then, whatever its lag: where the node listed an endpoint kube-proxy
forwards to from kube-proxy's lag bound (and the watch skew) before the death's earliest instant
through the start range's end (replay.detect `_reported_dead`, rule NP4 of session 38). Which
listings count, and since when, follows what the inferred F itself reads:

- a ready endpoint always (kube-proxy forwards to ready local endpoints, whatever its gate);
- (rule SG) a serving-terminating one where ProxyTerminatingEndpoints is surely on (`sure_gate`:
  replay.proxy `pte_sure`, kube-proxy 1.28 or later, where the gate is GA and cannot be turned
  off, or a configuration or a probe stating it on): KEP-1669 has kube-proxy forward to
  serving-terminating local endpoints where no ready one is left, so a ready endpoint turning
  serving-terminating was forwarded to before kube-proxy's sync of that change (as ready) and
  after it (as serving-terminating) alike, until the pod died or its endpoint left the slice;
- (rule IL) a listing the EndpointSlices' initial list found (its first sample within
  `list_s` of the Service's first listing, replay.unseen `listed_at`): the state the recording
  found, held before it, not a change kube-proxy had to program (replay.unseen `backdated`,
  which the inferred F reads the same way).

Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import islice

from gapwatch.replay.fold import AT_US, Sample

#: the listings kube-proxy forwards to whatever its gate, and with the gate surely on
READY = ("ready",)
READY_OR_SERVING = ("ready", "serving-terminating")


def forwarded_through(
    eps: Sequence[Sample],
    lo_us: int,
    hi_us: int,
    *,
    sure_gate: bool,
    initial_by_us: int,
) -> bool:
    """Whether the node's endpoints (`eps`) listed one kube-proxy forwards to at `lo_us` and on
    through `hi_us`: ready ones, or serving-terminating ones too where the gate is surely on
    (`sure_gate`). A lane whose first sample came by `initial_by_us` (the initial list's) held
    that value before it."""
    accept = READY_OR_SERVING if sure_gate else READY
    i = bisect_right(eps, lo_us, key=AT_US)
    if i:
        if eps[i - 1].value not in accept:
            return False
    elif not eps or eps[0].at_us > initial_by_us or eps[0].value not in accept:
        return False
    # the lane runs forward in time: the samples up to `hi_us` are a run
    j = bisect_right(eps, hi_us, lo=i, key=AT_US)
    return all(s.value in accept for s in islice(eps, i, j))
