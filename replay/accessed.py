"""The LB's failed requests as evidence of the windows they fell in (docs/semantics.md, "Access
log lines as evidence").

A failed access-log line tied to a node (recorder.accessfields.is_lb_failure: the LB's own
502/503/504 with no answer from the target; replay.impact) is a request the LB dispatched to the
node (R on) that nothing there answered (F off): a gap held at its dispatch. The dispatch lies
within `access_dispatch_s` after the line's request time t (ALB `request_creation_time`,
Classic `time`), on the log's clock; on the recorder's timeline that is [t - hi - skew,
t + dispatch - lo + skew], where lo..hi are the offsets replay.logclock estimates for the
Service's log from the windows found without this evidence (0..0 when it estimates none) and
skew is `clock_skew_s`. So:

- the window of the node whose bounds [start_earliest, end_latest] alone meet that range held a
  gap somewhere in their intersection [a, b]: it is certain, it started by b and ended no
  earlier than a; detection reads it again with that proof (detect.windows_from's `proven`:
  its sure start, and so its class, read as a certain window's);
- a range that meets several windows cannot say which one: no proof; one that meets none (a
  window detection missed, a failure that was no race, or a clock the lines could not
  estimate) proves nothing either;
- a line after the Service's horizon (the newest look of its lanes) is past the data.

A proof moves a window's certainty, sure range and class, never its outer bounds (the offsets and
the counts read those): the windows found with the proofs give the same proofs. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, horizon
from gapwatch.replay.impact import Impact
from gapwatch.replay.logclock import LogClock, OutsideKept, log_clocks
from gapwatch.replay.model import ServiceRef, Window

#: per window a failed line proved: (the latest its gap began, the earliest it ended), us
Proof = tuple[int, int]


def lane_proofs(
    windows: Sequence[Window], failed: Sequence[int], before_us: int, after_us: int, end_us: int
) -> list[Proof]:
    """The proofs one lane's failed lines give its windows: each line's gap lies in
    [t - before_us, t + after_us] on the recorder's timeline (`reach`); `failed` sorted, lines
    after `end_us` not read. One proof per window some line alone meets, in time order; only
    those that prove more than the window's own samples did. Per window, by bisection: the
    lines that meet it and no other window lie in one run of `failed`, and its first line
    bounds the start, its last the end."""
    if not failed or not windows:
        return []
    order = sorted(windows, key=lambda w: w.start_earliest_us)
    last_line = bisect_right(failed, end_us)
    out: list[Proof] = []
    reached = None  # the latest end of the windows before this one
    for i, w in enumerate(order):
        lo = w.start_earliest_us - after_us
        if reached is not None:
            lo = max(lo, reached + before_us + 1)  # lines that meet an earlier window too
        hi = w.end_latest_us + before_us
        if i + 1 < len(order):
            hi = min(hi, order[i + 1].start_earliest_us - after_us - 1)  # or a later one
        reached = w.end_latest_us if reached is None else max(reached, w.end_latest_us)
        first = bisect_left(failed, lo, 0, last_line)
        last = bisect_right(failed, hi, 0, last_line) - 1
        if first > last:
            continue
        start_by = min(failed[first] + after_us, w.end_latest_us)
        end_from = max(failed[last] - before_us, w.start_earliest_us)
        if w.certain and start_by >= w.start_latest_us and end_from <= w.end_earliest_us:
            continue  # the samples had proven as much
        out.append((start_by, end_from))
    return out


def reach(clock: LogClock | None, settings: DetectSettings) -> tuple[int, int]:
    """How far before and after its request time (the log's clock) a failed line's dispatch can
    lie on the recorder's timeline: (before, after), us."""
    skew = seconds_us(settings.clock_skew_s)
    dispatch = seconds_us(settings.access_dispatch_s)
    lo = hi = 0
    if clock is not None and clock.estimated:
        lo, hi = clock.lo_us, clock.hi_us
    return hi + skew, dispatch - lo + skew


#: per node, what its proofs were found from (its windows, its lines, how many were read, the
#: reach) and the proofs: reused while all of these are the same objects and values
ProofMemo = dict[str, tuple[Sequence[Window], Sequence[int], int, int, int, list[Proof]]]


def access_proofs(
    state: FoldState,
    svc: ServiceRef,
    windows: Mapping[str, Sequence[Window]],
    settings: DetectSettings,
    impact: Impact | None,
    kept: OutsideKept | None = None,
    memo: ProofMemo | None = None,
    clocks: dict[ServiceRef, LogClock] | None = None,
) -> dict[str, list[Proof]]:
    """Per node of `svc`, the proofs its failed lines give its `windows` (per node, found
    without them), on the Service's log clock; only nodes with some proof. `kept`: the lines
    outside each lane's windows from the last call (replay.logclock.log_clocks); `memo`: each
    node's proofs from the last call (updated), reused while its windows (the same list) and
    its lines did not move; `clocks`: given the Service's log clock, where it has failed lines
    (the proofs do not move the windows' outer bounds, all the clock reads)."""
    if impact is None:
        return {}
    mine = {key: times for key, times in impact.lanes.items() if key[0] == svc and times}
    if not mine:
        return {}
    own = Impact(mine, {svc} & impact.covered, {}, {})
    every = [w for ws in windows.values() for w in ws]
    clock = log_clocks(state, every, settings, own, kept).get(svc)
    if clocks is not None and clock is not None:
        clocks[svc] = clock
    before, after = reach(clock, settings)
    end = horizon(state, svc)
    out: dict[str, list[Proof]] = {}
    for (_svc, node), failed in mine.items():
        here = windows.get(node, ())
        read = bisect_right(failed, end)
        was = memo.get(node) if memo is not None else None
        if (
            was is not None
            and was[0] is here
            and was[1] is failed
            and was[2:5] == (read, before, after)
        ):
            proofs = was[5]
        else:
            proofs = lane_proofs(here, failed, before, after, end)
            if memo is not None:
                memo[node] = (here, failed, read, before, after, proofs)
        if proofs:
            out[node] = proofs
    return out


def decided(plain: Sequence[Window], proven: Sequence[Window]) -> list[Window]:
    """One lane's windows (`plain`, found without proofs) with those read again with their
    proofs (`proven`, the same windows' bounds) in their place, where the reading is decided:
    a window the samples left uncertain keeps its first reading when, proven, it still names
    other possible classes (`also`). A certain window promises the cause read at its sure
    start; a failed request proves the gap, not the order of the reactions before it (its count
    says the gap was real)."""
    again = {(w.start_earliest_us, w.end_latest_us): w for w in proven}
    out = []
    for was in plain:
        w = again.get((was.start_earliest_us, was.end_latest_us))
        out.append(was if w is None or (w.also and not was.certain) else w)
    return out
