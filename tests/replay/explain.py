"""The evidence around a wrongly classed window or a missed true one, for reading it by hand
(`benchmarks/accuracy.py --explain`, `--misses`): the samples of every lane of its (Service,
node) from a little before its earliest start to its latest end, in seconds from the earliest
start (a miss: from the true start), and for a miss the looks of the sampled lanes that fell
inside it."""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.context import local_pods
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.model import ServiceRef, Window

#: how far before a window's earliest start the evidence begins (microseconds)
BEFORE_US = 10_000_000


def _samples(label: str, lane: Sequence[Sample], lo: int, hi: int, zero: int) -> str:
    seen = [s for s in lane if lo <= s.at_us <= hi]
    last = next((s for s in reversed(lane) if s.at_us < lo), None)
    after = next((s for s in lane if s.at_us > hi), None)
    head = f"{last.value}@<" if last else ""
    body = " ".join(f"{s.value}@{(s.at_us - zero) / 1e6:+.2f}" for s in seen)
    tail = f"{after.value}@{(after.at_us - zero) / 1e6:+.2f}>" if after else ""
    return f"    {label:<9} {head} {body} {tail}".rstrip()


def evidence(state: FoldState, w: Window, truth: tuple[int, int]) -> list[str]:
    """Lines: the window (also, certainty, bounds), the true window, then each lane's samples
    (value@seconds from the window's earliest start) and the local pods' up/down steps."""
    zero = w.start_earliest_us

    def rel(t: int) -> str:
        return f"{(t - zero) / 1e6:+.2f}"

    head = (
        f"    window start [{rel(w.start_earliest_us)}, {rel(w.start_latest_us)}] end "
        f"[{rel(w.end_earliest_us)}, {rel(w.end_latest_us)}] also {list(w.also)} "
        f"{'certain' if w.certain else 'uncertain'}; truth [{rel(truth[0])}, {rel(truth[1])}]"
    )
    return [head, *lanes_around(state, w.service, w.node, zero, w.end_latest_us)]


def lanes_around(state: FoldState, svc: ServiceRef, node: str, zero: int, end: int) -> list[str]:
    """Each lane of (svc, node) from BEFORE_US before `zero` to a second after `end`, times in
    seconds from `zero` (the last sample before as `value@<`, the first after as `>`)."""
    lo, hi = zero - BEFORE_US, end + 1_000_000

    def rel(t: int) -> str:
        return f"{(t - zero) / 1e6:+.2f}"

    lines = [_samples("endpoints", sorted_lane(state.endpoints.get((svc, node), [])), lo, hi, zero)]
    for kind in ("nodeport", "health", "target"):
        lane = sorted_lane(state.probes[kind].get((svc, node), []))
        if lane:
            lines.append(_samples(kind, lane, lo, hi, zero))
    lines.append(_samples("node", state.nodes.get((svc.cluster, node), []), lo, hi, zero))
    for pod in local_pods(state, svc, node):
        pod_lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        seen = [p for p in pod_lane if lo <= p.at_us <= hi]
        after = next((p for p in pod_lane if p.at_us > hi), None)
        if seen:
            text = " ".join(f"{p.state}@{rel(p.at_us)}" for p in seen)
            more = f" {after.state}@{rel(after.at_us)}>" if after else ""
            lines.append(f"    pod {pod[-12:]:<9} {text}{more}")
    return lines


def looks_inside(origin_us: int, period_s: float, start_us: int, end_us: int) -> int:
    """How many looks of a lane sampled every `period_s` on the grid from `origin_us` (the
    simulator samples at the multiples of the period from the run's start) fell in
    [start_us, end_us]."""
    period = round(period_s * 1e6)
    first = -(-(start_us - origin_us) // period)
    last = (end_us - origin_us) // period
    return max(0, last - first + 1)
