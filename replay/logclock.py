"""The LB's access-log clock against the other observers': failed requests lie inside windows.

An access-log line that is the LB's own failure towards a target (recorder.accessfields: 502,
503 or 504 with no answer from the target) and is tied to a node (replay.impact.access_impact)
was dispatched to a node that did not serve the Service: a race window on that node held then.
Its time is the LB's own (ALB `request_creation_time`, Classic `time`: when the request came
in; the LB dispatched it within `access_dispatch_s`). Windows lie on the recorder's timeline
(the prober's and the poller's clocks already moved onto it: replay.clocks, replay.trailclock),
with bounds [start_earliest, end_latest]. A line at t on the log's clock lies in a window w
when the log's clock minus the recorder's, d, is in [t - end_latest - dispatch,
t - start_earliest + dispatch]; a line outside every window of its node at d = 0 says the
clocks differ, or that the failure was not a race (an app that reset the connection) or a
window detection missed. So, as replay.trailclock does for the poller, the offset is the one
the most lines allow, nearest 0, searched within +-`access_clock_max_s` (both signs: a
failure can neither come before its window nor after it), and used only where it puts at
least `min_measurements` more lines inside windows than 0 does and more than half of the
tied lines; it is a lower bound of the offset's size (the offsets that explain as many lines
run from `lo_us` to `hi_us`, and failed requests are counted over all of them). Where the
lines cannot decide, the count's bounds widen by `clock_skew_s` (the assumed skew of clocks
that are not synchronized). The counts read the log on this clock, and so does detection's
second look (replay.accessed: each failed line a gap instant), which moves a window's certainty,
sure range and class, never its outer bounds: the offset found on the windows without that
evidence is the one found on the windows with it. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.clocks import merged_intervals
from gapwatch.replay.fold import FoldState
from gapwatch.replay.impact import Impact, access_impact
from gapwatch.replay.model import ServiceRef, Window


@dataclass(frozen=True, slots=True)
class LogClock:
    """One Service's LB access log against the recorder's timeline."""

    service: ServiceRef
    #: failed lines tied to a node of the Service
    lines: int
    #: of them, outside every window of their node (by more than the dispatch) at offset 0
    outside: int
    #: lines the offset puts inside a window (at 0: lines - outside)
    explained: int
    #: the access log's clock minus the recorder's, us (0: none estimated)
    offset_us: int = 0
    #: the offsets that explain as many lines (the counts use all of them), us
    lo_us: int = 0
    hi_us: int = 0

    @property
    def estimated(self) -> bool:
        return bool(self.offset_us)

    def describe(self, settings: DetectSettings) -> str:
        """What output prints: the estimate and the lines it rests on, or why there is none."""
        if self.estimated:
            return (
                f"measured from {self.explained - (self.lines - self.outside)} of "
                f"{self.lines} failed lines outside every window at 0 (between "
                f"{self.lo_us / 1e6:+g} and {self.hi_us / 1e6:+g} s; the LB's clock minus "
                "the recorder's, a lower bound of its size)"
            )
        if not self.outside:
            return f"none found: all {self.lines} failed lines lie inside windows"
        return (
            f"undecided: {self.outside} of {self.lines} failed lines lie outside every window "
            f"(needs {settings.min_measurements} explained by one offset within "
            f"{settings.access_clock_max_s:g} s); counts widened by clock_skew_s "
            f"{settings.clock_skew_s:g} s"
        )


def allowed(t_us: int, bounds: Sequence[tuple[int, int]], slack_us: int) -> list[tuple[int, int]]:
    """The offsets d (log minus recorder) that put a line at `t_us` (the log's clock) inside
    one of the windows `bounds` (start_earliest, end_latest): closed intervals [lo, hi]."""
    return [(t_us - end - slack_us, t_us - start + slack_us) for start, end in bounds]


def best_range(lines: Iterable[list[tuple[int, int]]], limit_us: int) -> tuple[int, int, int]:
    """(lo, hi, count): the offsets in [-limit_us, limit_us] that the most lines allow, the
    run of them nearest 0 (each line counted once however many windows it fits)."""
    events: list[tuple[int, int]] = []
    for options in lines:
        for lo, hi in merged_intervals(options):
            lo, hi = max(lo, -limit_us), min(hi, limit_us)
            if lo <= hi:
                events += [(lo, 1), (hi, -1)]
    if not events:
        return 0, 0, 0
    events.sort(key=lambda e: (e[0], -e[1]))  # closed intervals: starts before ends
    pieces: list[tuple[int, int, int]] = []  # (from, to, count), closed, in order
    count, i = 0, 0
    while i < len(events):
        at = events[i][0]
        starts = ends = 0
        while i < len(events) and events[i][0] == at:
            starts += events[i][1] == 1
            ends += events[i][1] == -1
            i += 1
        count += starts
        pieces.append((at, at, count))
        count -= ends
        if i < len(events) and events[i][0] > at + 1:
            pieces.append((at + 1, events[i][0] - 1, count))
    top = max(c for _a, _b, c in pieces)
    runs: list[tuple[int, int]] = []
    for a, b, c in pieces:
        if c != top:
            continue
        if runs and runs[-1][1] + 1 == a:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    lo, hi = min(runs, key=lambda r: 0 if r[0] <= 0 <= r[1] else min(abs(r[0]), abs(r[1])))
    return lo, hi, top


def log_clocks(
    state: FoldState,
    windows: Sequence[Window],
    settings: DetectSettings,
    impact: Impact | None = None,
    kept: OutsideKept | None = None,
) -> dict[ServiceRef, LogClock]:
    """Per Service with failed lines tied to its nodes: its access log's clock (`impact`:
    replay.impact.access_impact of the state, when the caller has it). A bisect per line finds
    the lines outside every window; the offsets are searched only where at least
    `min_measurements` are (fewer cannot decide). `kept`: each lane's count of lines outside
    from the last call, reused while its lines (the same list, as long), its windows' bounds
    and the dispatch slack are (updated; replay.node_rows keeps it per Service)."""
    slack = seconds_us(settings.access_dispatch_s)
    limit = seconds_us(settings.access_clock_max_s)
    by_lane: dict[tuple[ServiceRef, str], list[tuple[int, int]]] = {}
    here: list[tuple[int, int]] = []
    at: tuple[ServiceRef | None, str | None] = (None, None)
    for w in windows:  # a lane's windows mostly come together: looked up once per run of them
        if w.node != at[1] or w.service is not at[0]:
            at = (w.service, w.node)
            here = by_lane.setdefault((w.service, w.node), [])
        here.append((w.start_earliest_us, w.end_latest_us))
    impact = access_impact(state) if impact is None else impact
    lanes: dict[ServiceRef, list[tuple[list[int], list[tuple[int, int]]]]] = {}
    outside: dict[ServiceRef, int] = {}
    for (svc, node), times in impact.lanes.items():
        bounds = sorted(by_lane.get((svc, node), []))
        before = kept.get((svc, node)) if kept is not None else None
        grew = impact.grown.get((svc, node)) if impact.grown and before is not None else None
        if before is not None and before[0] is times and before[1:4] == (len(times), slack, bounds):
            out_here = before[4]
        else:
            if (
                before is not None
                and grew is not None
                and before[0] is grew[0]
                and before[1:4] == (len(grew[0]), slack, bounds)
            ):  # the lines it had, counted then, and those the impact's update added
                out_here = before[4] + _outside(sorted(grew[1]), bounds, slack)
            else:
                out_here = _outside(times, bounds, slack)
            if kept is not None:
                kept[(svc, node)] = (times, len(times), slack, bounds, out_here)
        lanes.setdefault(svc, []).append((times, bounds))
        outside[svc] = outside.get(svc, 0) + out_here
    out: dict[ServiceRef, LogClock] = {}
    for svc, pairs in lanes.items():
        count = sum(len(times) for times, _b in pairs)
        at_zero = count - outside[svc]
        found = LogClock(svc, count, outside[svc], at_zero)
        if limit > 0 and found.outside >= settings.min_measurements:
            reach = limit + slack  # windows no offset within the limit can reach are left out
            lines = [
                allowed(t, [(a, b) for a, b in bounds if a - reach <= t <= b + reach], slack)
                for times, bounds in pairs
                for t in times
            ]
            lo, hi, top = best_range(lines, limit)
            nearest = lo if lo > 0 else (hi if hi < 0 else 0)
            if top - at_zero >= settings.min_measurements and 2 * top > count and nearest:
                found = replace(found, explained=top, offset_us=nearest, lo_us=lo, hi_us=hi)
        out[svc] = found
    return out


#: per lane: its lines (the list), how many, the dispatch slack, its windows' bounds and the
#: lines outside them (`log_clocks`; a lane the impact's update grew counts the added lines
#: only: `Impact.grown`)
OutsideKept = dict[tuple[ServiceRef, str], tuple[list[int], int, int, list[tuple[int, int]], int]]


def _outside(times: Sequence[int], bounds: Sequence[tuple[int, int]], slack: int) -> int:
    """How many of the lane's line times (sorted) lie outside every window bound (widened by
    slack): all but those inside the merged bounds, two bisects a merged bound (they are
    disjoint: touching ones join), not one a line (a lane holds up to 3,300 lines and about
    100 windows on the `large` store)."""
    inside = 0
    for lo, hi in merged_intervals([(a - slack, b + slack) for a, b in bounds]):
        inside += bisect_right(times, hi) - bisect_left(times, lo)
    return len(times) - inside


def counted(
    state: FoldState,
    windows: Sequence[Window],
    settings: DetectSettings,
    clocks: Mapping[ServiceRef, LogClock] | None = None,
    impact: Impact | None = None,
    before: Mapping[Window, Window] | None = None,
) -> list[Window]:
    """replay.impact.failed_requests on the access log's clock: each window's bounds moved by
    its Service's estimated offsets (all of lo..hi) and widened by `clock_skew_s` (with
    neither, the same counts); the Services without impact data keep None. `impact`:
    `access_impact(state)`, when the caller keeps it (replay.checkpoint). `before`: windows
    counted earlier, by their uncounted selves: one whose count is the same is reused."""
    impact = access_impact(state) if impact is None else impact
    clocks = log_clocks(state, windows, settings, impact) if clocks is None else clocks
    skew = seconds_us(settings.clock_skew_s)
    slack = seconds_us(settings.access_dispatch_s)
    out: list[Window] = []
    for w in windows:
        if w.service not in impact.covered:
            out.append(w)
            continue
        clock = clocks.get(w.service)
        lo = hi = 0
        if clock is not None and clock.estimated:  # the lines' dispatch as the estimate had it
            lo, hi = clock.lo_us - slack, clock.hi_us + slack
        lane = impact.lanes.get((w.service, w.node), [])
        first = bisect_left(lane, w.start_earliest_us + lo - skew)
        last = bisect_right(lane, w.end_latest_us + hi + skew)
        kept = before.get(w) if before else None
        if kept is not None and kept.failed_requests == last - first:
            out.append(kept)
        else:
            out.append(replace(w, failed_requests=last - first))
    return out
