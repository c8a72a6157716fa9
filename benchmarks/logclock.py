"""The access-log clock estimate (replay.logclock) on simulated ALB logs whose clock is off.

The simulator writes every failed request into the access log at its true time (all of them
lie inside true windows). Here each `LBAccessLog` observation's request time is moved by
`--offsets` seconds (the LB's clock off the recorder's), then detection runs under the default
assumptions and each run reports: failed lines tied to a node, how many the windows count
without the estimate (replay.impact.failed_requests) and with it (replay.logclock.counted), and
the Services whose offset was estimated, with the estimates. Offset 0 measures false estimates.
Presets with an HTTP listener only (a TCP listener writes no access log, as on AWS).

    .venv/bin/python benchmarks/logclock.py [--seeds 3] [--offsets 0,10,-10,25]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import timedelta

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.impact import access_impact, failed_requests
from gapwatch.replay.logclock import counted, log_clocks

PRESETS = ("seed-3node", "mitigated", "alibaba-slb", "tencent-clb", "slow-kube-proxy")


def shifted(observations: list[Observation], offset_s: float) -> list[Observation]:
    """The access-log lines' request times moved by `offset_s` (the LB's clock)."""
    move = timedelta(seconds=offset_s)
    return [
        replace(o, source_time=o.source_time + move)
        if o.kind == "LBAccessLog" and o.source_time is not None
        else o
        for o in observations
    ]


def one(name: str, seed: int, offset_s: float) -> tuple[int, int, int, list[float]]:
    """(lines tied, counted without, counted with, estimated offsets in s) of one run."""
    observations = shifted(list(run(load_scenario(name), seed=seed).observations), offset_s)
    state = fold(FoldState(), [f for i, o in enumerate(observations, 1) for f in derive(i, o)])
    windows = detect(state, settings=DEFAULTS)
    lines = sum(len(v) for v in access_impact(state).lanes.values())
    before = sum(w.failed_requests or 0 for w in failed_requests(state, windows))
    after = sum(w.failed_requests or 0 for w in counted(state, windows, DEFAULTS))
    clocks = log_clocks(state, windows, DEFAULTS).values()
    return lines, before, after, [c.offset_us / 1e6 for c in clocks if c.estimated]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N per preset")
    parser.add_argument("--offsets", default="0,10,-10,25", help="LB clock offsets, seconds")
    parser.add_argument("--presets", default=",".join(PRESETS))
    args = parser.parse_args()
    presets = args.presets.split(",")
    for offset in (float(x) for x in args.offsets.split(",")):
        lines = before = after = 0
        found: list[float] = []
        for name in presets:
            for seed in range(1, args.seeds + 1):
                n, b, a, offs = one(name, seed, offset)
                lines, before, after = lines + n, before + b, after + a
                found += offs
        runs = len(presets) * args.seeds
        shown = f"{min(found):+.2f}..{max(found):+.2f} s" if found else "-"
        print(
            f"offset {offset:+g} s: {runs} runs, {lines} failed lines tied to nodes; counted in "
            f"windows without the estimate {before}, with it {after}; Services estimated "
            f"{len(found)} ({shown})",
            flush=True,
        )


if __name__ == "__main__":
    main()
