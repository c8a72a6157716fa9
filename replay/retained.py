"""Possible windows whose samples retention dropped.

`gapwatch db maintain --retention` drops old events and their facts but keeps the projections
(docs/retention.md): the windows outlive the samples they were read from. Why such a window is
only possible (replay.openness) can then no longer be read, and reading it from the facts left
says "no kube-proxy probe of this node", "no target health recorded" of lanes that were
recorded and dropped. A possible window that begins before the first event the store still
holds of its cluster is one of those: no window is found before a cluster's first event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, func, select

from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import from_micros, to_micros
from gapwatch.replay.model import Rollout, Window


def first_events_us(engine: Engine, clusters: Sequence[str]) -> dict[str, int | None]:
    """The first observed_at (µs) the store holds of each cluster; None where it holds none."""
    with translate_errors(engine), engine.connect() as conn:
        return {cluster: first_event_us(conn, cluster) for cluster in sorted(set(clusters))}


def first_event_us(conn: Connection, cluster: str) -> int | None:
    """The first observed_at (µs) the store holds of `cluster` (an index lookup); None where
    it holds none."""
    query = select(func.min(events.c.observed_at)).where(events.c.cluster == cluster)
    first = conn.execute(query).scalar_one()
    return None if first is None else to_micros(first)


def before_held(windows: Sequence[Window], first_us: Mapping[str, int | None]) -> list[Window]:
    """The windows among `windows` that begin before their cluster's first held event
    (`first_us`, as `first_events_us` gives it)."""
    out = []
    for w in windows:
        first = first_us.get(w.service.cluster)
        if first is None or w.start_earliest_us < first:
            out.append(w)
    return out


def dropped(windows: Sequence[Window], first_us: Mapping[str, int | None]) -> list[Window]:
    """The possible windows among `before_held`'s."""
    return [w for w in before_held(windows, first_us) if not w.certain]


def advice_note(gone: int, total: int) -> str:
    """What the advice cannot answer for: `gone` of the `total` windows it speaks of lie before
    the first held event. The what-if replay under the advised settings reads the events kept,
    so after `db maintain --retention 1d` the demo's report advised preStop 1 s and 'the 3
    windows observed, 0 left', where it had advised 10 s before the retention."""
    if not gone:
        return ""
    return (
        f"{gone} of the {total} window{'s' if total != 1 else ''} this advice speaks of "
        f"{'lie' if gone != 1 else 'lies'} before the first event the store still holds: "
        "retention dropped the timeline they were found in, so the replay that searched the "
        "settings does not hold them and the settings are not shown to close them (the "
        "measured lags are the projections', kept)"
    )


def dropped_note(gone: Sequence[Window], first_us: Mapping[str, int | None]) -> str:
    """One sentence on the possible windows whose samples were dropped; empty without one."""
    if not gone:
        return ""
    clusters = sorted({w.service.cluster for w in gone})
    held = "; ".join(
        f"of cluster {c} it holds none"
        if first_us.get(c) is None
        else f"of cluster {c} from {from_micros(first_us[c] or 0):%Y-%m-%d %H:%M:%S} UTC"
        for c in clusters
    )
    n = len(gone)
    it, lies, they = ("it", "lies", "it is") if n == 1 else ("them", "lie", "they are")
    return (
        f"{n} possible window{'s' if n != 1 else ''} {lies} before the first event the store "
        f"still holds ({held}): retention (gapwatch db maintain --retention) dropped the samples "
        f"around {it}, so why {they} only possible can no longer be read (the windows are "
        "the projections', which outlive the events: docs/retention.md)"
    )


def kept_note(
    windows: Sequence[Window], rollouts: Sequence[Rollout], first_us: Mapping[str, int | None]
) -> str:
    """One sentence on the windows and rollouts that lie wholly before their cluster's first
    held event (`first_us`): rows a rebuild keeps as they were (replay.kept_rows), computed
    before retention dropped their events, by the gapwatch of that time; empty without one."""

    def gone(cluster: str, end_us: int) -> bool:
        first = first_us.get(cluster)
        return first is None or end_us < first

    old = [w for w in windows if gone(w.service.cluster, w.end_latest_us)]
    groups = [r for r in rollouts if gone(r.service.cluster, r.end_us)]
    if not old and not groups:
        return ""
    said = [f"{len(old)} window{'s' if len(old) != 1 else ''}"] if old else []
    if groups:
        said.append(f"{len(groups)} rollout{'s' if len(groups) != 1 else ''}")
    clusters = sorted({w.service.cluster for w in old} | {r.service.cluster for r in groups})
    held = "; ".join(
        f"of cluster {c} it holds none"
        if first_us.get(c) is None
        else f"of cluster {c} from {from_micros(first_us[c] or 0):%Y-%m-%d %H:%M:%S} UTC"
        for c in clusters
    )
    lies = "lie" if len(old) + len(groups) != 1 else "lies"
    return (
        f"{' and '.join(said)} {lies} before the first event the store still holds ({held}): "
        "gapwatch computed them before retention (gapwatch db maintain --retention) dropped "
        "their events, under the rules of the version that ran then, and keeps them as they "
        "were: no event left can compute them again (`gapwatch replay --rebuild "
        "--forget-dropped` deletes them; docs/retention.md)"
    )


def lanes_gone_note(
    cluster: str, since_us: int | None, first_us: int | None, lanes_before: bool, kept: int
) -> str:
    """The lanes of a range that begins before the cluster's first held event (`first_us`;
    None: it holds none) are gone when the store keeps `kept` windows from before it but no
    lane segment (`lanes_before`): a rebuild after the retention computed the lanes from the
    events left. `gapwatch timeline` said "nothing recorded places its endpoints, pods,
    kube-proxy or load balancer on a node" of lanes that were recorded, and the Rollout page
    drew a kept rollout's windows over empty lanes. Empty when nothing is missing."""
    if not kept or lanes_before:
        return ""
    if first_us is not None and since_us is not None and since_us >= first_us:
        return ""
    held = (
        f"of cluster {cluster} it holds none"
        if first_us is None
        else f"of cluster {cluster} from {from_micros(first_us):%Y-%m-%d %H:%M:%S} UTC"
    )
    windows = f"{kept} window{'s' if kept != 1 else ''}"
    return (
        f"the lanes before the first event the store still holds ({held}) are gone: retention "
        "(gapwatch db maintain --retention) dropped the events they were read from, and the "
        "projections rebuilt since hold only the lanes of the events left (the "
        f"{windows} kept from before were found in the lanes dropped: gapwatch gaps; "
        "docs/retention.md)"
    )
