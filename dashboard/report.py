"""The postmortem report's content: what happened, the lanes, the lags and the advice, per Service.

`collect` asks the replay API (never the fold) for one rollout, or for a time range, and returns
a `Postmortem`: plain data that `dashboard.report_render` turns into Markdown or self-contained
HTML. Scope rules:

- `rollout=ID`: that rollout's Service, from the rollout's start to its end: the windows replay
  grouped into it (as the dashboard's rollout page lists them, and as its advice counts them),
  and how many other windows of the Service overlap that span, by the group that owns them
  (another rollout or disruption, or none), which the report does not list.
- `since`/`until`: every LB-facing Service (narrowed by `cluster`/`service`) with a window or a
  rollout in the range.

Advice answers for the report's span by default, as the dashboard's rollout page does
(`advice_over="span"`: the smallest settings that close the windows overlapping the span,
replayed from the projections around it; replay.scope); a rollout's advice counts only the
windows the rollout owns, recorded and replayed (replay.owned), not a neighbour's that start
inside its range. The lags it rests on are always the
Service's, measured over everything recorded (lags are only trustworthy with many samples), and
each recommended figure names the measurements it rests on, with their counts.
`advice_over="history"` asks what closes every window ever recorded for the Service (the
whole history replayed under each candidate: ~40 s for the `large` demo store's Service), which
is also what a span left open on either side gets. Each possible window says why the samples
leave it open and which observations would have decided it (replay.openness, from the facts
around the windows: replay.openness_scope).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from gapwatch.dashboard.errors import DashboardError
from gapwatch.recorder.cliutil import outside, recorded_span
from gapwatch.recorder.timefmt import format_time, from_micros, to_micros
from gapwatch.replay import api
from gapwatch.replay.model import Advice, LagStats, Rollout, Segment, ServiceRef, Window
from gapwatch.replay.openness import Openness
from gapwatch.replay.rollout_range import rollout_range

#: Which measured lags each recommended setting is derived from (replay.advise's reasoning:
#: a registration delay must outlast kube-proxy's programming after the CCM registers; a preStop
#: must outlast the LB's deregistration or its health check turning the node down).
SETTING_BASIS: dict[str, tuple[str, ...]] = {
    "ccm_register_delay_s": ("kube-proxy-programming", "ccm-register"),
    "prestop_s": ("ccm-deregister", "lb-health-down"),
    "termination_grace_s": ("ccm-deregister", "lb-health-down"),
    "proxy_terminating_endpoints": (),
}
#: What the advice can answer for: the report's span, or the Service's whole history.
ADVICE_OVER = ("span", "history")
#: What each setting is called where people change it.
SETTING_NAMES: dict[str, str] = {
    "ccm_register_delay_s": "CCM registration delay (or a readiness gate)",
    "prestop_s": "preStop sleep",
    "termination_grace_s": "terminationGracePeriodSeconds",
    "proxy_terminating_endpoints": "ProxyTerminatingEndpoints (kube-proxy)",
}


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended setting, and the measurements (name, samples) it rests on."""

    setting: str
    label: str
    value: float | bool
    basis: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Windows of the Service in a rollout's span that another group owns (replay.group)."""

    #: the owning group's id; None: the windows are in no rollout or disruption
    group: str | None
    #: what it is (`rollout of Deployment/x`), "" for None or a group the store no longer has
    label: str
    windows: int


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """Everything the report says about one Service in the chosen span."""

    service: ServiceRef
    windows: tuple[Window, ...]
    rollouts: tuple[Rollout, ...]
    segments: tuple[Segment, ...]
    advice: Advice
    recommendations: tuple[Recommendation, ...]
    #: each possible window's reason and what would have decided it (replay.openness)
    openness: Mapping[Window, Openness] = field(default_factory=dict)
    #: the span whose windows the advice closes; None: every window recorded for the Service
    advice_span: tuple[int, int] | None = None
    #: the possible windows whose samples retention dropped, said in a sentence (not in
    #: `openness`: api.retention_dropped); empty without one
    dropped_note: str = ""
    #: what the advice cannot answer for: windows whose timeline retention dropped; empty
    #: without one
    advice_note: str = ""
    #: the windows and rollouts an earlier replay computed from events retention dropped
    #: since, kept as they were (api.retention_kept_note); empty without one
    kept_note: str = ""
    #: a rollout's report: the rollout whose windows `windows` are (None: a range's report)
    owner: Rollout | None = None
    #: a rollout's report: the other groups' windows that overlap its span, not listed
    neighbours: tuple[Neighbours, ...] = ()

    @property
    def lags(self) -> tuple[LagStats, ...]:
        return self.advice.lags


@dataclass(frozen=True, slots=True)
class Postmortem:
    """The report: its scope and one section per Service."""

    title: str
    since_us: int | None
    until_us: int | None
    rollout: Rollout | None
    sections: tuple[ServiceReport, ...] = field(default=())
    #: said when there is no section: the span lies outside what the store recorded
    note: str = ""


def recommendations(advice: Advice) -> tuple[Recommendation, ...]:
    """The advice's non-default settings, each with the lags (and sample counts) behind it."""
    samples = {lag.name: lag.samples for lag in advice.lags}
    out = []
    for name, basis in SETTING_BASIS.items():
        value = getattr(advice.settings, name)
        if value is None:
            continue
        out.append(
            Recommendation(
                setting=name,
                label=SETTING_NAMES[name],
                value=value,
                basis=tuple((lag, samples.get(lag, 0)) for lag in basis),
            )
        )
    return tuple(out)


def find_rollout(engine: Engine, rollout_id: str, cluster: str | None = None) -> Rollout:
    """The rollout (or node disruption) with this id; a missing one names the closest ids."""
    import difflib

    known = api.rollouts(engine, cluster=cluster)
    for r in known:
        if r.id == rollout_id:
            return r
    close = difflib.get_close_matches(rollout_id, [r.id for r in known], n=5, cutoff=0.4)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise DashboardError(f"no rollout {rollout_id!r} in this store{hint}")


def _section(
    engine: Engine,
    svc: ServiceRef,
    since: datetime | None,
    until: datetime | None,
    rollouts: Sequence[Rollout],
    advice_over: str,
    advice_until: datetime | None = None,
    owner: Rollout | None = None,
) -> ServiceReport:
    """One Service's part of the report over [since, until); the span's advice over [since,
    `advice_until`) where given (a rollout's: replay.rollout_range), of the windows `owner`
    owns when given (replay.owned)."""
    wins = api.windows(engine, service=svc, since=since, until=until)
    neighbours: tuple[Neighbours, ...] = ()
    if owner is not None:
        neighbours = _neighbours(engine, svc, [w for w in wins if w.rollout != owner.id])
        wins = list(owner.windows)
    nodes = sorted({w.node for w in wins} | {n for r in rollouts for n in r.nodes})
    segs = api.timeline(engine, svc, since=since, until=until, nodes=nodes) if nodes else []
    span = None
    if advice_over == "span" and since is not None and until is not None:
        advised = advice_until or until
        span = (to_micros(since), to_micros(advised))
        advice = api.advise(engine, svc, since=since, until=advised, rollout=owner)
        why = api.openness(engine, svc, wins)
    else:
        advice, why = api.advise_and_openness(engine, svc, wins)
    return ServiceReport(
        service=svc,
        windows=tuple(wins),
        rollouts=tuple(rollouts),
        segments=tuple(segs),
        advice=advice,
        recommendations=recommendations(advice),
        openness=why,
        advice_span=span,
        dropped_note=api.retention_dropped(engine, wins)[1],
        advice_note=_advice_note(engine, svc, wins, advice_over),
        kept_note=api.retention_kept_note(engine, wins, rollouts),
        owner=owner,
        neighbours=neighbours,
    )


def _neighbours(
    engine: Engine, svc: ServiceRef, others: Sequence[Window]
) -> tuple[Neighbours, ...]:
    """`others` (windows of `svc` another group owns) counted by group, the most first."""
    if not others:
        return ()
    counts = Counter(w.rollout for w in others)
    known = {r.id: r for r in api.rollouts(engine, service=svc)}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return tuple(
        Neighbours(group, _label(known.get(group)) if group else "", n) for group, n in ranked
    )


def _label(group: Rollout | None) -> str:
    return "" if group is None else f"{group.kind} of {group.workload}"


def _advice_note(engine: Engine, svc: ServiceRef, wins: Sequence[Window], over: str) -> str:
    """api.retention_advice_note for the windows the advice speaks of (the span's, or all)."""
    spoken = wins if over == "span" else api.windows(engine, service=svc)
    return api.retention_advice_note(engine, svc, spoken)


def collect(
    engine: Engine,
    *,
    rollout: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cluster: str | None = None,
    service: str | None = None,
    advice_over: str = "span",
) -> Postmortem:
    """The postmortem of one rollout, or of every Service's windows in [since, until);
    `advice_over`: "span" (the advice closes the span's windows) or "history" (every window
    recorded for the Service)."""
    if advice_over not in ADVICE_OVER:
        raise ValueError(f"advice_over must be one of {', '.join(ADVICE_OVER)}: {advice_over!r}")
    if rollout is not None:
        found = find_rollout(engine, rollout, cluster)
        lo, hi = from_micros(found.start_us), from_micros(found.end_us)
        # the advice reads the range the What-if page and `gapwatch whatif --rollout` read: the
        # windows other settings move past the rollout's end still count (replay.rollout_range)
        advised = from_micros(rollout_range(found, api.assumptions(engine))[1])
        section = _section(
            engine, found.service, lo, hi, [found], advice_over, advised, owner=found
        )
        title = (
            f"Postmortem: {found.kind} {found.workload} in cluster {found.service.cluster} "
            f"({found.id})"
        )
        return Postmortem(title, found.start_us, found.end_us, found, (section,))
    sections = []
    for svc in api.services(engine):
        if cluster is not None and svc.cluster != cluster:
            continue
        if service is not None and svc.key != service:
            continue
        mine = api.rollouts(engine, service=svc, since=since, until=until)
        section = _section(engine, svc, since, until, mine, advice_over)
        if section.windows or section.rollouts:
            sections.append(section)
    note = ""
    span = recorded_span(engine, cluster) if not sections else None
    if span is not None and outside(span, since, until):
        first, last = (format_time(t) for t in span)
        note = f"Nothing was recorded in this span: the store holds events from {first} to {last}."
    elif not sections:
        note = _unseen(engine, cluster, service)
    return Postmortem(
        "Postmortem: gap windows",
        None if since is None else to_micros(since),
        None if until is None else to_micros(until),
        None,
        tuple(sections),
        note,
    )


def _unseen(engine: Engine, cluster: str | None, service: str | None) -> str:
    """Why no window could be seen, when no Service had an LB lane: the report of a store of
    Kubernetes objects and access logs only said "No LB-facing Service had a gap window", a
    claim about an LB nothing recorded, where `gaps` and the dashboard say none could be seen."""
    from gapwatch.replay.cli_checks import lb_lanes, unplaced_targets
    from gapwatch.replay.cli_tables import NO_LB_LANE, unplaced_lb

    if lb_lanes(engine, cluster=cluster, service=service):
        return ""
    unplaced = unplaced_targets(engine, cluster=cluster, service=service)
    why = unplaced_lb(unplaced) if unplaced else NO_LB_LANE
    return f"{why[0].upper()}{why[1:]}: 0 windows here says nothing about the load balancer."
