"""The simulated ALB access log as a real ALB writes it: failed AND successful requests.

A real ALB logs every request (AWS, "Access logs for your Application Load Balancer"). The
simulator's observations carry only the failed requests (each one matters to the truth); the
`elb-access-log` format adds successful ones: requests the LB sent to a node while it was routed
and served (outside the node's true windows), a Poisson process at `SUCCESS_RPS` over the whole
LB split evenly over the routed nodes, as the failures are drawn. The rate is a sample of the
scenario's traffic (capped at its `rps`), to keep the files compact: what matters to an importer
is that most lines are successes it must not count, not how many there are. Drawn with their
own random generator, seeded by the run's seed: the simulation itself is unchanged.

With `observe.access_log` the same successes are also emitted in-band after the run (the
failed lines are emitted as they happen, recorder.sim.traffic), each observed when its 5-minute
file is delivered, or at the end of the run when that has passed: replay then reads a run's
whole ALB log beside its other observations.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING

from gapwatch.recorder.sim.traffic import access_line, queue_line

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World

#: Successful requests logged per second over the whole LB (at most the scenario's `rps`).
SUCCESS_RPS = 2.0


def _in_window(spans: list[tuple[int, int]], starts: list[int], at_us: int) -> bool:
    i = bisect.bisect_right(starts, at_us) - 1
    return i >= 0 and at_us < spans[i][1]


def success_times(w: World, seed: int, end_us: int) -> Iterator[tuple[int, str]]:
    """(time, node) of the successful requests to log, in time order."""
    rate = min(SUCCESS_RPS, w.s.traffic.rps)
    if rate <= 0:
        return
    rng = random.Random(f"alb-successes-{seed}")
    windows: dict[str, list[tuple[int, int]]] = {}
    for x in w.truth.windows:
        windows.setdefault(x.node, []).append((x.start_us, x.end_us))
    starts = {node: [a for a, _b in sorted(spans)] for node, spans in windows.items()}
    spans_of = {node: sorted(spans) for node, spans in windows.items()}
    changes = [*w.truth.routing, (end_us, frozenset())]
    t = 0.0
    for (since, routed), (until, _next) in pairwise(changes):
        t = max(t, float(since))
        if not routed:
            continue
        nodes = sorted(routed)
        while True:
            t += rng.expovariate(rate / 1e6)
            if t >= until:
                t = float(until)
                break
            node = nodes[rng.randrange(len(nodes))]
            at = int(t)
            if not _in_window(spans_of.get(node, []), starts.get(node, []), at):
                yield at, node


def access_log_lines(w: World, seed: int, failed: list[tuple[int, str]]) -> Iterator[str]:
    """Every line of the simulated log, by request time: the failed requests' lines as the
    simulator logged them (`failed`: (time, line)) and the successes."""
    end = w.loop.now
    if w.s.lb.listener != "http" or not w.s.traffic.access_log:
        return
    lines = list(failed)
    for seq, (at_us, node) in enumerate(success_times(w, seed, end), start=len(failed) + 1):
        lines.append((at_us, access_line(w, node, at_us, seq, status="200")[0]))
    lines.sort(key=lambda pair: pair[0])
    for _at, line in lines:
        yield line


def emit_successes(w: World, seed: int) -> None:
    """Queue the successful requests' lines (`success_times`) as LBAccessLog observations, as
    recorder.sim.traffic queues the failed ones (`observe.access_log`, HTTP listeners only)."""
    if w.s.lb.listener != "http" or not w.s.traffic.access_log:
        return
    now = w.loop.now
    first = len(w.truth.requests) + 1
    for seq, (at_us, node) in enumerate(success_times(w, seed, now), start=first):
        line, fields = access_line(w, node, at_us, seq, status="200")
        queue_line(w, node, at_us, line, fields)
