"""Recorded windows against the simulator's true ones, and the verdict.

A true window is *found* by a recorded window of the same Service and node whose bounds
[start_earliest - bound, end_latest + bound] overlap it (the closest such start wins; each
recorded window finds at most one true window). Recorded windows that find none are *false
positives*, except those that start after the simulation's end (`end_s` plus the bound): there
the simulator's world stands still (no Node heartbeats, nothing), the truth says nothing, and a
loaded machine's lab can record for minutes past the end (a restart it waited for); they are
listed apart (`after_end`) and judged by nobody. *Class agreement*: found windows whose class is
the true one. *Boundary error*: the larger of |recorded start - true start| and |recorded end -
true end|, in simulated seconds.

The verdict compares the lab with a **baseline**: the same scenario and seed replayed from the
simulator's own observers, looking as often as the lab's recorders do (`gapwatch simulate`, no
access logs since the lab serves none). The simulator's observers see its world without a wire,
a clock or a process in between, so anything the lab does worse than the baseline beyond one
sampling bound is what the real path lost:

- recall not below the baseline's, false positives not above, class agreement not below;
- for every true window both find, the true start and end inside the recorded window's own
  sampling bounds ([start_earliest, start_latest], [end_earliest, end_latest]), give or take
  how far they lie outside the baseline's plus `bound` (one look interval plus the driver's
  measured lateness, simulated seconds). A recorder that looks late (a loaded machine) widens
  its bounds; it does not move the truth out of them.

A stretch a watch relist passed over (`unknown`: `apiserver-restart`, from the outage to the
last stream's relist, widened by one bound on each side) holds what nobody can recover: the
relist brings each object's state at its end, not the versions in between (docs/lab.md). A true
window that touches it is *relisted*: it must still be found, within its bounds, and its class is
not judged (the Kubernetes lanes that tell the cause were not seen; replay.relisted); one that
lies inside it (not widened: one that began before the outage was seen live and may be proven)
must be found by a window that is not certain. A recorded window that finds no true window is
not a false positive when it is uncertain and touches such a stretch: replay reports where a gap
may have hidden, as it must.

The absolute figures against the truth are printed beside it: the detector's own accuracy is
what `benchmarks/accuracy.py` measures, not the lab.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gapwatch.recorder.sim.result import Window as TrueWindow
from gapwatch.recorder.timefmt import parse_time
from gapwatch.recorder.wording import class_text


@dataclass(frozen=True, slots=True)
class Pair:
    node: str
    true_class: str
    true_start: float
    true_end: float
    cls: str | None = None
    start: float | None = None
    end: float | None = None
    #: the recorded window's own sampling bounds: (start_earliest, start_latest, end_earliest,
    #: end_latest), simulated seconds
    bounds: tuple[float, float, float, float] | None = None
    #: whether replay called the recorded window certain
    certain: bool | None = None
    #: the other classes replay says the samples allow (`also`: undecided when not empty)
    also: tuple[str, ...] = ()
    #: for a window that names the true class only in `also`: whether the stored samples leave
    #: the order of the two causes open (recorder/lab/classorder.py); None: not judged
    order_open: bool | None = None
    #: the Service (`namespace/name`) of the true window
    service: str = ""

    @property
    def undecided_open(self) -> bool:
        """Matched-undecided: the recorded class differs, the true class is named in `also`
        and the stored samples do leave the two causes unordered (the honest answer)."""
        return (
            self.cls is not None
            and self.cls != self.true_class
            and self.true_class in self.also
            and self.order_open is True
        )

    @property
    def class_text(self) -> str | None:
        """The recorded class as the product words it (replay's `class_text`)."""
        return None if self.cls is None else class_text(self.cls, self.also)

    @property
    def error_s(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(abs(self.start - self.true_start), abs(self.end - self.true_end))

    @property
    def outside_s(self) -> float | None:
        """How far the true start and end lie outside the recorded window's bounds (0: inside)."""
        return self.edges_outside_s()

    def edges_outside_s(self, *, start: bool = True, end: bool = True) -> float | None:
        """`outside_s` of the chosen edges only (an edge no recorder could see is not judged:
        `verdict`); 0 when neither is chosen."""
        if self.bounds is None:
            return None
        s_lo, s_hi, e_lo, e_hi = self.bounds
        gaps = [0.0]
        if start:
            gaps += [s_lo - self.true_start, self.true_start - s_hi]
        if end:
            gaps += [e_lo - self.true_end, self.true_end - e_hi]
        return max(gaps)


@dataclass
class Score:
    pairs: list[Pair] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    #: recorded windows that start after the simulation's end (module doc)
    after_end: list[str] = field(default_factory=list)
    #: uncertain recorded windows inside a stretch a relist passed over (module doc)
    relisted: list[str] = field(default_factory=list)

    @property
    def truth(self) -> int:
        return len(self.pairs)

    @property
    def found(self) -> int:
        return sum(1 for p in self.pairs if p.cls is not None)

    @property
    def same_class(self) -> int:
        return sum(1 for p in self.pairs if p.cls == p.true_class)

    @property
    def matched_undecided(self) -> int:
        """Found windows of another class naming the true one where the stored samples leave
        the order open: counted apart, never as a same class (`Pair.undecided_open`)."""
        return sum(1 for p in self.pairs if p.undecided_open)

    @property
    def max_error_s(self) -> float:
        return max((p.error_s for p in self.pairs if p.error_s is not None), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "true_windows": self.truth,
            "found": self.found,
            "recall": round(self.found / self.truth, 4) if self.truth else 1.0,
            "false_positives": len(self.false_positives),
            "class_agreement": self.same_class,
            "matched_undecided": self.matched_undecided,
            "max_boundary_error_s": round(self.max_error_s, 3),
        }


def _seconds(text: str, origin: datetime) -> float:
    return (parse_time(text) - origin).total_seconds()


def score(
    truth: Sequence[TrueWindow],
    recorded: Sequence[Mapping[str, Any]],
    origin: datetime,
    bound_s: float,
    end_s: float | None = None,
    unknown: Sequence[tuple[float, float]] = (),
) -> Score:
    """Match `recorded` (gapwatch gaps --json) with `truth` (module doc); `end_s`: the
    simulation's end (simulated seconds since `origin`); `unknown`: stretches a relist passed
    over (simulated seconds)."""
    free = list(range(len(recorded)))
    result = Score()
    for t in sorted(truth, key=lambda w: w.start_us):
        t_start, t_end = t.start_us / 1e6, t.end_us / 1e6
        best: tuple[float, int] | None = None
        for i in free:
            r = recorded[i]
            if r["node"] != t.node or r["service"] != t.service:
                continue
            lo = _seconds(r.get("start_earliest") or r["start"], origin) - bound_s
            hi = _seconds(r.get("end_latest") or r["end"], origin) + bound_s
            if lo <= t_end and t_start <= hi:
                distance = abs(_seconds(r["start"], origin) - t_start)
                if best is None or distance < best[0]:
                    best = (distance, i)
        if best is None:
            result.pairs.append(Pair(t.node, t.cls, t_start, t_end, service=t.service))
            continue
        free.remove(best[1])
        r = recorded[best[1]]
        start, end = _seconds(r["start"], origin), _seconds(r["end"], origin)
        bounds = (
            _seconds(r.get("start_earliest") or r["start"], origin),
            _seconds(r.get("start_latest") or r["start"], origin),
            _seconds(r.get("end_earliest") or r["end"], origin),
            _seconds(r.get("end_latest") or r["end"], origin),
        )
        result.pairs.append(
            Pair(
                t.node,
                t.cls,
                t_start,
                t_end,
                r["class"],
                start,
                end,
                bounds,
                r.get("certain"),
                tuple(r.get("also") or ()),
                service=t.service,
            )
        )
    for i in free:
        r = recorded[i]
        text = (
            f"{r['node']} {class_text(r['class'], r.get('also') or ())} "
            f"{_seconds(r['start'], origin):.1f}"
            f"-{_seconds(r['end'], origin):.1f} s"
        )
        start = _seconds(r.get("start_earliest") or r["start"], origin)
        late = end_s is not None and start > end_s + bound_s
        end = _seconds(r.get("end_latest") or r["end"], origin)
        hidden = not r.get("certain", True) and _touches(start, end, unknown, bound_s)
        if late:
            result.after_end.append(text)
        else:
            (result.relisted if hidden else result.false_positives).append(text)
    return result


def _touches(
    start: float, end: float, stretches: Sequence[tuple[float, float]], bound_s: float
) -> bool:
    return any(a - bound_s <= end and start <= b + bound_s for a, b in stretches)


def relisted(pair: Pair, unknown: Sequence[tuple[float, float]], bound_s: float) -> bool:
    """The true window touches a stretch a watch relist passed over (module doc)."""
    return _touches(pair.true_start, pair.true_end, unknown, bound_s)


def unseen(pair: Pair, blind: Sequence[tuple[float, float]], bound_s: float) -> bool:
    """The true window began and ended while no recorder was looking (a blind stretch, widened
    by one bound on each side, as ledger.py's unobservable states)."""
    return any(a - bound_s <= pair.true_start and pair.true_end <= b + bound_s for a, b in blind)


def _blind_at(at: float, blind: Sequence[tuple[float, float]], bound_s: float) -> bool:
    return any(a - bound_s <= at <= b + bound_s for a, b in blind)


def opened_unseen(pair: Pair, blind: Sequence[tuple[float, float]], bound_s: float) -> bool:
    """The true window began while no recorder was looking (before the LB poller's first look,
    or in a blind stretch) and ended after it: it must be found, its end is judged, its start
    and class are not (`verdict`)."""
    return _blind_at(pair.true_start, blind, bound_s) and not unseen(pair, blind, bound_s)


def closed_unseen(pair: Pair, blind: Sequence[tuple[float, float]], bound_s: float) -> bool:
    """The true window ended while no recorder was looking and began before: its end is not
    judged (`verdict`)."""
    return _blind_at(pair.true_end, blind, bound_s) and not unseen(pair, blind, bound_s)


#: how the verdict's class problem begins (the table counts runs that differ only in a class)
CLASS_PROBLEM = "class right for "


def verdict(
    lab: Score,
    baseline: Score,
    bound_s: float,
    blind: Sequence[tuple[float, float]] = (),
    unknown: Sequence[tuple[float, float]] = (),
) -> list[str]:
    """Why the lab's windows differ from the truth beyond what sampling explains ([] = match).

    A true window inside a blind stretch (`blind`: `sigkill-all`, or before the LB poller's first
    look) is *unseen*: no sampler saw it begin or end, so it need not be found (replay may still
    report the stretch as a possible window, from the pods it saw die) and its class and bounds
    are not judged; a recorded window found for it must not be certain (replay must not claim
    what nobody saw). One that began in such a stretch and ended after it must be found and its
    end lie within the bounds, but its start and class are not judged (`opened_unseen`: nobody
    saw which cause opened it, nor when; session 25's traced soaks, 2 of 5 failed so: true
    76.2-90.1 s, the LB poller's first look at 82.1 s, the truth 5.93 s before the recorded start
    bound); one that ended in it, its end is not judged (`closed_unseen`)."""
    problems: list[str] = []
    pairs = list(zip(lab.pairs, baseline.pairs, strict=True))
    seen = [(m, t) for m, t in pairs if not unseen(m, blind, bound_s)]
    found = sum(1 for m, _ in seen if m.cls is not None)
    baseline_found = sum(1 for _, t in seen if t.cls is not None)
    if found < baseline_found:
        problems.append(f"found {found} true windows, the baseline {baseline_found}")
    if len(lab.false_positives) > len(baseline.false_positives):
        problems.append(
            f"{len(lab.false_positives)} false positives (baseline "
            f"{len(baseline.false_positives)}): {'; '.join(lab.false_positives)}"
        )
    # a relisted true window's class is not judged (module doc): the lanes that tell it are gone;
    # nor one that opened while nobody looked
    judged = [
        (m, t)
        for m, t in seen
        if not relisted(m, unknown, bound_s) and not opened_unseen(m, blind, bound_s)
    ]
    right = sum(1 for m, _ in judged if m.cls == m.true_class)
    # matched-undecided (the stored samples leave the order open) is no wrong class, nor a
    # right one: it makes up for a class the baseline got right, and is counted apart
    open_ = sum(1 for m, _ in judged if m.undecided_open)
    baseline_right = sum(1 for _, t in judged if t.cls == t.true_class)
    if right + open_ < baseline_right:
        wrong = [
            f"{m.node} true {m.true_class} at {m.true_start:.1f}-{m.true_end:.1f} s recorded "
            f"{m.class_text} {m.start:.1f}-{m.end:.1f} s"
            + (" (the stored samples order the causes)" if m.order_open is False else "")
            for m, _ in judged
            if m.cls is not None
            and m.cls != m.true_class
            and not m.undecided_open
            and m.start is not None
            and m.end is not None
        ]
        problems.append(f"{CLASS_PROBLEM}{right}, baseline {baseline_right}: {'; '.join(wrong)}")
    problems += [
        f"{m.node} {m.true_class} at {m.true_start:.1f} s: nobody looked, yet the recorded "
        "window is certain"
        for m, _ in pairs
        if unseen(m, blind, bound_s) and m.certain
    ]
    problems += [
        f"{m.node} {m.true_class} at {m.true_start:.1f} s: a relist passed over it, yet the "
        "recorded window is certain"
        for m, _ in pairs
        if m.certain and any(a <= m.true_start and m.true_end <= b for a, b in unknown)
    ]
    for mine, theirs in seen:
        # an edge nobody could see is not judged (`opened_unseen`, `closed_unseen`)
        edges = {
            "start": not opened_unseen(mine, blind, bound_s),
            "end": not closed_unseen(mine, blind, bound_s),
        }
        outside = mine.edges_outside_s(**edges)
        if outside is None:
            continue
        # the truth must lie inside the recorded window's own sampling bounds, give or take
        # what the baseline shows the model puts between a health answer and the truth
        allowed = (theirs.edges_outside_s(**edges) or 0.0) + bound_s
        if outside > allowed:
            problems.append(
                f"{mine.node} {mine.true_class} at {mine.true_start:.1f} s: the truth lies "
                f"{outside:.2f} s outside the recorded bounds > {allowed:.2f} s "
                "(baseline + bound)"
            )
    return problems
