"""The `large` preset against its truth: classes of replay windows that overlap exactly one true
window (confusion matrix), and rollout attribution (rollouts whose span holds true window starts
but that got no window). The issue-13 check; prints figures, asserts nothing.

    .venv/bin/python benchmarks/large_truth.py [--hours 24] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from bisect import bisect_left
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapwatch.recorder.sim import SimResult, load_scenario, run
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.group import group
from gapwatch.replay.model import WINDOW_CLASSES


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    result = run(load_scenario("large", {"duration_s": args.hours * 3600}), seed=args.seed)
    facts = [f for i, obs in enumerate(result.observations, 1) for f in derive(i, obs)]
    state = fold(FoldState(), facts)
    windows = detect(state)
    rollouts, windows = group(state, windows)
    offset = _offset(result)
    truth = [(t.node, t.start_us + offset, t.end_us + offset, t.cls) for t in result.truth.windows]
    by_node: dict[str, list[tuple[int, int, str]]] = {}
    for node, start, end, cls in truth:
        by_node.setdefault(node, []).append((start, end, cls))
    confusion: Counter[tuple[str, str]] = Counter()
    # windows naming other possible classes (Window.also), by: wrong, the truth among them
    undecided: Counter[bool] = Counter()
    for w in windows:
        near = by_node.get(w.node, [])
        hits = [c for s, e, c in near if s < w.end_latest_us and e > w.start_earliest_us]
        if len(hits) == 1:
            confusion[(hits[0], w.cls)] += 1
            if w.also:
                undecided[hits[0] != w.cls and hits[0] in w.also] += 1
    print(
        f"observations {len(result.observations)}  true windows {len(truth)}  "
        f"replay windows {len(windows)}  ({time.monotonic() - started:.0f} s)"
    )
    matched = sum(confusion.values())
    right = sum(n for (t, g), n in confusion.items() if t == g)
    print(
        f"replay windows overlapping exactly one true window: {matched}, wrong class "
        f"{matched - right}"
    )
    print(
        f"undecided (another class possible too): {sum(undecided.values())}, of them wrong "
        f"with the truth among the others {undecided[True]}; wrong and not undecided "
        f"{matched - right - undecided[True]}"
    )
    short = {c: "".join(p[0] for p in c.split("-")) for c in WINDOW_CLASSES}
    print(f"{'':>6}" + "".join(f"{short[c]:>7}" for c in WINDOW_CLASSES))
    for t in WINDOW_CLASSES:
        print(f"{short[t]:>6}" + "".join(f"{confusion.get((t, g), 0):>7}" for g in WINDOW_CLASSES))
    starts = sorted(s for _n, s, _e, _c in truth)
    real = [r for r in rollouts if r.kind == "rollout"]
    empty = [r for r in real if not r.windows]
    starting = sum(bisect_left(starts, r.end_us) - bisect_left(starts, r.start_us) for r in empty)
    print(
        f"rollouts {len(real)} (truth {len(result.truth.rollouts)}), with no window "
        f"{len(empty)}, true windows starting inside those {starting}"
    )
    ranked = sorted(rollouts, key=lambda r: -r.gap_seconds)[:10]
    print("top 10 by gap-seconds: " + ", ".join(r.kind for r in ranked))


def _offset(result: SimResult) -> int:
    """Truth times are from the scenario's start; replay's are since the epoch."""
    first = result.truth.windows[0]
    return to_micros(parse_time(first.start)) - first.start_us


if __name__ == "__main__":
    main()
