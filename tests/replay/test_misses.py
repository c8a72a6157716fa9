"""benchmarks/accuracy.py `--misses`: each missed true window with its run, duration, sampling
periods, how many looks of each sampled lane fell inside it, and its lanes around it, so a miss
can be classed by cause (no look could see it, or the rows show it and replay dropped it)."""

from __future__ import annotations

from gapwatch.recorder.sim import Scenario
from gapwatch.recorder.sim.result import Window as TrueWindow
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.fold import FoldState, fold
from tests.replay.accuracy import miss_lines
from tests.replay.builders import CLUSTER, NS, SVC, at, facts_of, looks, one_node, pod
from tests.replay.explain import looks_inside

SECOND = 1_000_000


def test_looks_inside_counts_the_grid_instants_in_the_window() -> None:
    # a 5 s grid from 0: 10 s and 15 s lie in [9 s, 15 s], the ends count
    assert looks_inside(0, 5.0, 9 * SECOND, 15 * SECOND) == 2
    # a window between two looks: none
    assert looks_inside(0, 5.0, 11 * SECOND, 14 * SECOND) == 0
    # a grid that does not start at 0, and a period that is not whole seconds
    assert looks_inside(3 * SECOND, 0.5, 3_100_000, 4_000_000) == 2
    assert looks_inside(0, 2.0, 2 * SECOND, 2 * SECOND) == 1


def test_a_miss_names_its_run_duration_periods_looks_and_lanes() -> None:
    obs = [*one_node(), *looks("n1", 2, 30, 5), pod(21, "p1", "n1", "terminating", deleted_at=21)]
    state = fold(FoldState(), facts_of(sorted(obs, key=lambda o: o.observed_at)))
    start, end = to_micros(at(22.1)), to_micros(at(23.3))
    truth = TrueWindow(
        CLUSTER, f"{NS}/{SVC}", "n1", "pod-gone-before-deregistered", "s", "e", start, end
    )
    scenario = Scenario(name="random-7", start=at(0).isoformat().replace("+00:00", "Z"))
    head, *lanes = miss_lines(scenario, 7, state, truth, start, end)
    assert head == (
        "  miss: random-7 seed 7 n1 pod-gone-before-deregistered s..e (1.200 s); "
        "probe every 1 s (1 looks inside), LB poll every 5 s (0 inside)"
    )
    text = "\n".join(lanes)
    assert "nodeport" in text and "connected@" in text
    assert "terminating@-1.10" in text
