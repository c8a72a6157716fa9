"""The stretch a relist passed over: what a watcher that got 410 Gone stores about it (pure).

A watch resumed from its resourceVersion loses nothing. After 410 Gone (the API server
compacted its history past that version: an etcd compaction, an apiserver restart) the watcher
relists: the LIST gives every object's state at one instant and the diff against what was
recorded gives one change per object (relist diff, recorder/sources/k8s/watcher.py). What
happened in between is gone for good: a pod that turned not-ready, terminating and was deleted
is one DELETED; an EndpointSlice that lost and regained its ready endpoint shows nothing.

The watcher knows that stretch: from the last moment its stream was known to be in sync (the
clock reading of its last event or bookmark, or of the checkpoint it resumed from; for a
checkpoint an older recorder wrote without that stamp, the newest stored row of the stream:
recorder/sources/k8s/storeio.py `load_resume_times` says why that bound holds) to the end of
the relist. It stores it as one `RelistGap` observation, so replay can treat the lanes fed
by that kind as unknown there instead of trusting the relist's timing (docs/semantics.md):

- `observed_at`: the relist's end; `previous_observed_at`: the last instant known in sync
  (null only when unknown: an unstamped checkpoint and no stored row of that stream);
- `name`: the watched kind (`EndpointSlice`); `namespace`: the watch's namespace, null for a
  cluster-wide watch;
- `resource_version`: the list's resourceVersion; the payload names the kind, both
  resourceVersions, the reason and `changed`: the objects whose resourceVersion moved in
  between (created, changed - even back to what was recorded - or deleted), as `namespace/name`
  (`name` for cluster-scoped kinds), sorted; null when more than `MAX_CHANGED` (then any object
  may have changed). An object not named there was not written during the stretch: nothing of
  it was passed over, and replay keeps its lanes.

Its identity (`recorder.observation.Observation.dedupe_key`) is the stream and the two
resourceVersions, not who saw it when: the same stretch re-delivered (a batch retried after it
committed, an export imported again) is one row. A second relist from the same checkpoint (the
recorder died before the checkpoint moved) passed over a longer stretch: another row.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from gapwatch.recorder.observation import RELIST_GAP, Observation
from gapwatch.recorder.sources.k8s.resources import SOURCE

#: The most objects a gap names (`changed`); past it, any object may have changed. 1,000 keys of
#: ~60 bytes keep the row near the size of one large EndpointSlice.
MAX_CHANGED = 1000

#: a 410 Gone not yet relisted: (the lost resourceVersion, when last in sync, why)
Lost = tuple[str, datetime | None, str]


def passed_over(
    lost: Lost | None,
    cluster: str,
    kind: str,
    namespace: str | None,
    until: datetime,
    to_rv: str,
    changed: Collection[tuple[str, str]] | None = None,
) -> Observation | None:
    """The gap of a relist that ended at `until` with `to_rv`, or None when no 410 preceded
    it, or when the list's resourceVersion is the lost one (nothing was written in between).
    `changed`: (namespace, name) of the objects whose resourceVersion moved (None: unknown)."""
    if lost is None or lost[0] == to_rv:
        return None
    from_rv, since, reason = lost
    return gap_observation(
        cluster=cluster,
        kind=kind,
        namespace=namespace,
        since=since,
        until=until,
        from_rv=from_rv,
        to_rv=to_rv,
        reason=reason,
        changed=changed,
    )


def gap_observation(
    *,
    cluster: str,
    kind: str,
    namespace: str | None,
    since: datetime | None,
    until: datetime,
    from_rv: str,
    to_rv: str,
    reason: str,
    changed: Collection[tuple[str, str]] | None = None,
) -> Observation:
    """The `RelistGap` observation of one stream's relist (module docstring)."""
    if since is not None and since > until:
        since = until  # a clock read out of order cannot make the stretch negative
    names = None
    if changed is not None and len(changed) <= MAX_CHANGED:
        names = sorted(f"{ns}/{name}" if ns else name for ns, name in changed)
    return Observation(
        observed_at=until,
        cluster=cluster,
        source=SOURCE,
        kind=RELIST_GAP,
        op="OBSERVED",
        payload={
            "kind": kind,
            "namespace": namespace,
            "fromResourceVersion": from_rv,
            "toResourceVersion": to_rv,
            "reason": reason[:300],
            "changed": names,
        },
        namespace=namespace,
        name=kind,
        resource_version=to_rv or None,
        previous_observed_at=since,
    )
