"""When kube-proxy surely programmed a pod listed ready, from its own sync metrics (`sync`
looks; replay.syncs). Pure.

kube-proxy's `syncProxyRules` takes every endpoints change pending when it begins and programs
the whole version it then holds (replay.syncs, module docstring). So a look whose last sync
began at least `reach` (the watch's and the clocks' skew) after a slice version listed the pod
ready, and ended at `S` while the pod was still listed ready, shows a sync that read a version
listing it: the pod was programmed by `S`. When the sync began is its end less its duration
(replay.syncs.began_by: the growth of the histogram's `_sum`, else the `sync_span_s`
assumption); a look with a change queued after its last sync proves nothing (that change may
be the listing's own, still pending), as in replay.syncs' "done" reading.
"""

from __future__ import annotations

from gapwatch.replay.syncs import SyncIndex, done_look

#: Never (no look shows it)
NEVER = 2**62


def programmed_by(
    looks: SyncIndex, listed_us: int, until_us: int, reach_us: int, span_us: int
) -> int:
    """The end of the first sync the node's looks show began `reach_us` after the pod's listing
    at `listed_us` and ended before `until_us` (the pod no longer listed ready from then), else
    NEVER. `span_us`: the `sync_span_s` assumption."""
    ordered, times = looks
    if not ordered:
        return NEVER
    i = done_look(ordered, times, listed_us + reach_us, span_us)
    if i is None or ordered[i].synced_us >= until_us:
        return NEVER
    return ordered[i].synced_us
