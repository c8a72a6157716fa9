"""The replay commands' tables for people (gaps, rollouts, timeline, advise's lags).

Most important columns first, fitted to the terminal by recorder.humantable (`--wide` for all);
the cluster is a column whenever the rows come from more than one cluster, else it is in the
title; ids are the shortest unique prefix (`gapwatch report --rollout` takes them); times are the
time of day with the date in the title; durations are rounded for people. --json and --csv keep
every field at full precision (replay.cli).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gapwatch.recorder.humantable import Col, clock, print_table, seconds, short_ids, short_nodes
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay.model import LagStats, Rollout, Segment, Window, class_text
from gapwatch.replay.openness import Openness
from gapwatch.replay.untied import Untied

#: Window classes as narrow tables print them (`--wide` prints the full names).
SHORT_CLASS = {
    "registered-before-forwarding": "registered-before-fwd",
    "closed-before-deregistered": "closed-before-dereg",
    "pod-gone-before-deregistered": "pod-gone-before-dereg",
    "node-not-ready": "node-not-ready",
}


#: Marks a narrow table's undecided class (replay.model.class_text); `--wide` names the others.
UNDECIDED_MARK = "*"
UNDECIDED_NOTE = "* undecided: another class fits the samples as well (--wide names it)"
#: Under a table whose `failed` column has a blank cell: blank is unknown, not none (a rollout
#: of the demo's aws cluster, 3 windows and 19 s of gap, read as failing no request).
FAILED_NOTE = "failed: blank where no LB access log was imported for it (unknown, not 0)"


def _note_unknown_failed(shown: Sequence[Col], rows: Sequence[Mapping[str, str]]) -> None:
    if any(c.key == "failed" for c in shown) and any(r["failed"] == "" for r in rows):
        print(FAILED_NOTE)


def _class_cell(w: Window, wide: bool) -> str:
    """`--wide`: the class as everywhere (`closed-before-deregistered (or
    registered-before-forwarding: undecided)`); narrow: the short name, marked when undecided
    (the full wording does not fit 80 columns)."""
    if wide:
        return class_text(w.cls, w.also)
    return SHORT_CLASS.get(w.cls, w.cls) + (UNDECIDED_MARK if w.also else "")


def _day_title(what: str, stamps: Sequence[int], clusters: set[str], services: set[str]) -> tuple[
    str, bool
]:  # fmt: skip
    """`gap windows, cluster seed, istio-system/gw, 2026-01-01 (UTC)`, and whether rows need
    their own dates (they span more than one day)."""
    days = sorted({from_micros(s).date().isoformat() for s in stamps})
    parts = [what]
    if len(clusters) == 1:
        parts.append(f"cluster {next(iter(clusters))}")
    if len(services) == 1:
        parts.append(next(iter(services)))
    if len(days) == 1:
        parts.append(f"{days[0]} (UTC)")
    elif days:
        parts.append(f"{days[0]} to {days[-1]} (UTC)")
    return ", ".join(parts), len(days) > 1


def duration(w: Window) -> str:
    """`4.0 s (1-7)`: the best estimate and, in brackets, the whole seconds the sampling allows
    (a range from 0 is a possible window, not a proven one)."""
    return f"{seconds(w.duration_s)} ({w.duration_min_s:.0f}-{w.duration_max_s:.0f})"


#: What `gaps` says when there is nothing to find windows in (no LB lane at all).
NO_LB_LANE = (
    "no gap windows, and none could be seen: no Service has a recorded LB lane (which nodes "
    "the LB routes to: an LB poller, CloudTrail, the push API or service-controller Events; "
    "docs/lb.md, docs/importers.md)"
)


def unplaced_lb(observations: int) -> str:
    """What `gaps` says when the LB was recorded but no target was mapped to a node."""
    return (
        f"no gap windows, and none could be seen: {observations} target-health observation(s) "
        "were recorded with no node (their target matched no Node of the cluster in the store, "
        "by instance id or IP), and replay places an LB lane on a node: record the cluster's "
        "Nodes (gapwatch record) or import them (gapwatch import k8s-watch), then poll again "
        "(docs/lb.md, Node mapping)"
    )


def no_lb_lane_for(service: str, cluster: str, unplaced: int = 0) -> str:
    """What `advise` and `whatif` say of a Service with no LB lane: 0 windows there is nothing
    seen, not an LB that never misrouted (`recommended: nothing` read as the settings being
    safe). `unplaced`: target-health observations of it that name no node (an LB recorded, but
    mapped to no Node: `unplaced_lb`)."""
    if unplaced:
        why = (
            f"{unplaced} target-health observation(s) were recorded with no node (their target "
            "matched no Node of the cluster in the store; docs/lb.md, Node mapping)"
        )
    else:
        why = (
            "no LB lane was recorded for it (which nodes the LB routes to: an LB poller, "
            "CloudTrail, the push API or service-controller Events; docs/lb.md, "
            "docs/importers.md)"
        )
    return (
        f"no window could be seen for {service}, cluster {cluster}: {why}: 0 windows here says "
        "nothing about the load balancer"
    )


def print_windows(
    windows: Sequence[Window],
    *,
    wide: bool = False,
    lb_lanes: int | None = None,
    unplaced: int = 0,
) -> None:
    """The gap windows, one per row (or one line saying there are none: the filters were
    checked against the store first, so none means none, where replay had an LB lane to look
    at; `lb_lanes` 0 says there was none, `unplaced` how many LB observations named no node)."""
    if not windows:
        if lb_lanes == 0 and unplaced:
            print(unplaced_lb(unplaced))
            return
        if lb_lanes == 0:
            # a store of Kubernetes objects only once answered that the LB never misrouted
            print(NO_LB_LANE)
            return
        print(
            "no gap windows: in this range the load balancer never routed to a node that did "
            "not serve"
        )
        return
    clusters = {w.service.cluster for w in windows}
    services = {w.service.key for w in windows}
    title, dated = _day_title("gap windows", [w.start_us for w in windows], clusters, services)
    nodes = short_nodes([w.node for w in windows]) if not wide else {}
    ids = short_ids([w.rollout for w in windows]) if not wide else {}
    rows = []
    for w in windows:
        rows.append(
            {
                "cluster": w.service.cluster,
                "service": w.service.key,
                "node": nodes.get(w.node, w.node),
                "class": _class_cell(w, wide),
                "start": clock(from_micros(w.start_us), dated),
                "end": clock(from_micros(w.end_us), dated),
                "duration": duration(w),
                "evidence": "proven" if w.certain else "possible",
                "failed": "" if w.failed_requests is None else str(w.failed_requests),
                "rollout": "" if w.rollout is None else ids.get(w.rollout, w.rollout),
                "provenance": w.provenance,
            }
        )
    cols = [
        Col("cluster", "cluster", always=len(clusters) > 1),
        Col("node", "node", always=True),
        Col("class", "class", always=True),
        Col("start", "start", always=True),
        Col("duration", "duration", always=True, right=True),
        Col("evidence", "evidence"),
        Col("failed", "failed", right=True),
        Col("end", "end"),
        Col("rollout", "rollout"),
        Col("service", "service", always=len(services) > 1),
        Col("provenance", "lanes"),
    ]
    if len(clusters) <= 1:
        cols = [c for c in cols if c.key != "cluster" or wide]
    if len(services) <= 1:
        cols = [c for c in cols if c.key != "service" or wide]
    shown = print_table(rows, cols, title=title, wide=wide)
    if not wide and any(w.also for w in windows):
        print(UNDECIDED_NOTE)
    _note_unknown_failed(shown, rows)


def print_open(
    windows: Sequence[Window], why: Mapping[Window, Openness], dropped: str = ""
) -> None:
    """`gaps --why`: one paragraph per possible window, in the table's order: which side the
    samples left open, each lane's change, what denser sampling would have done; then
    `dropped`, the sentence on those whose samples retention dropped (api.retention_dropped)."""
    if dropped:
        print()
        print(dropped)
    shown = [w for w in windows if w in why]
    if not shown:
        return
    dated = len({from_micros(w.start_us).date() for w in windows}) > 1
    print()
    print(f"why possible ({len(shown)} window{'s' if len(shown) != 1 else ''}):")
    for w in shown:
        o = why[w]
        print(
            f"- {w.node} {clock(from_micros(w.start_us), dated)} ({w.service.cluster}): "
            f"{o.sentence}"
        )


def print_untied(untied: Sequence[Untied]) -> None:
    """One line per (cluster, Service) of failed requests no node could be tied to: they are in
    no window (`--json` lists their times)."""
    for u in untied:
        first, last = from_micros(u.times_us[0]), from_micros(u.times_us[-1])
        where = u.service.key if u.service is not None else "an unknown Service"
        print(
            f"{u.count} failed requests at an unknown node ({u.cluster}, {where}) from "
            f"{first:%Y-%m-%d %H:%M:%S} to {last:%H:%M:%S} UTC: their targets match no Node's "
            "address; in no window"
        )


#: What `rollouts` says when it finds none.
NO_ROLLOUTS = (
    "no rollouts or node disruptions in the recorded events (a rollout: the workload of an "
    "LB-facing Service changing revision; a disruption: a node behind one drained, cordoned or "
    "removed)"
)


def print_rollouts(rollouts: Sequence[Rollout], *, wide: bool = False) -> None:
    """Rollouts and node disruptions with their damage (or one line saying there are none: an
    empty table with eleven headers read like a command that had failed)."""
    if not rollouts:
        print(NO_ROLLOUTS)
        return
    clusters = {r.service.cluster for r in rollouts}
    services = {r.service.key for r in rollouts}
    title, dated = _day_title("rollouts", [r.start_us for r in rollouts], clusters, services)
    ids = short_ids([r.id for r in rollouts]) if not wide else {}
    rows = []
    for r in rollouts:
        failed = [w.failed_requests for w in r.windows if w.failed_requests is not None]
        worst = max((w.duration_s for w in r.windows), default=None)
        change = (
            f"{r.revision_from or '?'}->{r.revision_to or '?'}"
            if r.kind == "rollout"
            else ",".join(sorted(short_nodes(r.nodes).values()))
        )
        rows.append(
            {
                "cluster": r.service.cluster,
                "id": ids.get(r.id, r.id),
                "kind": "rollout" if r.kind == "rollout" else "disruption",
                "workload": r.workload if wide else r.workload.rsplit("/", 1)[-1],
                "start": clock(from_micros(r.start_us), dated),
                "windows": str(len(r.windows)),
                "gap": seconds(r.gap_seconds) if r.windows else "0 s",
                "worst": seconds(worst) if worst is not None else "",
                "failed": str(sum(failed)) if failed else "",
                "change": change,
                "end": clock(from_micros(r.end_us), dated),
                "service": r.service.key,
            }
        )
    cols = [
        Col("cluster", "cluster", always=len(clusters) > 1),
        Col("id", "id", always=True),
        Col("kind", "kind", always=True),
        Col("start", "start", always=True),
        Col("windows", "windows", always=True, right=True),
        Col("gap", "gap", always=True, right=True),
        Col("failed", "failed", right=True),
        Col("worst", "worst", right=True),
        Col("workload", "workload"),
        Col("change", "change"),
        Col("end", "end"),
        Col("service", "service", always=len(services) > 1),
    ]
    if len(clusters) <= 1 and not wide:
        cols = [c for c in cols if c.key != "cluster"]
    shown = print_table(rows, cols, title=title, wide=wide)
    # a row without windows has nothing to count: its blank is no unknown
    _note_unknown_failed(shown, [row for row, r in zip(rows, rollouts, strict=True) if r.windows])


#: What starts the line under `rollouts` that counts the windows no row holds.
OUTSIDE_MARK = "+ "


def print_outside(windows: Sequence[Window]) -> None:
    """Under the rollouts table: the windows in no rollout or disruption, which its rows do not
    count (the demo's aws cluster: a proven 13 s window 80 s after the last disruption was in
    no row, and the rows' gap-seconds read as the whole damage)."""
    alone = [w for w in windows if w.rollout is None]
    if alone:
        n, total = len(alone), seconds(sum(w.duration_s for w in alone))
        print(
            f"{OUTSIDE_MARK}{n} window{'s' if n > 1 else ''} ({total}) in no rollout or "
            "disruption: `gapwatch gaps`"
        )


def print_lags(lags: Sequence[LagStats], title: str, *, wide: bool = False) -> None:
    """Measured lags in seconds, rounded; `samples` says how much each figure rests on."""
    rows = [
        {
            "name": lag.name,
            "samples": str(lag.samples),
            "p50": seconds(lag.p50),
            "p90": seconds(lag.p90),
            "p99": seconds(lag.p99),
            "max": seconds(lag.max),
        }
        for lag in lags
    ]
    cols = [
        Col("name", "lag", always=True),
        Col("samples", "samples", always=True, right=True),
        Col("p50", "p50", always=True, right=True),
        Col("p90", "p90", right=True),
        Col("p99", "p99", right=True),
        # last, as percentiles read, but kept before p99 when the terminal is narrow
        Col("max", "max", always=True, right=True),
    ]
    print_table(rows, cols, title=title, wide=wide)


def print_segments(segments: Sequence[Segment], title: str, *, wide: bool = False) -> None:
    """Lane segments: node, lane, state, from, to."""
    stamps = [s.start_us for s in segments]
    day_title, dated = _day_title(title, stamps, {s.service.cluster for s in segments}, set())
    nodes = short_nodes([s.node for s in segments]) if not wide else {}
    rows = [
        {
            "node": nodes.get(s.node, s.node),
            "lane": s.lane,
            "state": s.state,
            "start": clock(from_micros(s.start_us), dated, millis=True),
            "end": "" if s.end_us is None else clock(from_micros(s.end_us), dated, millis=True),
            "provenance": s.provenance,
            "event": "" if s.event_id is None else str(s.event_id),
        }
        for s in segments
    ]
    cols = [
        Col("node", "node", always=True),
        Col("lane", "lane", always=True),
        Col("state", "state", always=True),
        Col("start", "from", always=True),
        Col("end", "to"),
        Col("provenance", "evidence"),
        Col("event", "event", right=True),
    ]
    print_table(rows, cols, title=day_title, wide=wide)
