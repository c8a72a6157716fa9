"""`gapwatch lab` and `gapwatch lab table`: the product proved end to end (docs/lab.md).

Imports only typer at the top: the simulator, the fakes, moto and boto3 load when a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gapwatch.recorder.cliutil import secret_on_command_line

if TYPE_CHECKING:
    from gapwatch.recorder.lab.faults import Fault
    from gapwatch.recorder.lab.run import LabReport

lab_app = typer.Typer(
    name="lab",
    help=(
        "A simulated cluster served over the real protocols (a fake kube-apiserver with "
        "list/watch, one fake kube-proxy per node on loopback, moto's ELBv2 or, with --lb, "
        "Alibaba SLB's, Tencent CLB's or Huawei ELB's API), recorded by real "
        "`gapwatch record` processes into PostgreSQL in accelerated real time, replayed, and "
        "compared with the simulator's truth. Exit 1 when recorded and true windows differ "
        "beyond the sampling bounds or a transition was lost or duplicated. Needs the `lab` "
        "extra (moto) and PostgreSQL 15 server binaries unless --db is given."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)

SpeedOpt = Annotated[
    float, typer.Option(help="Simulated seconds per wall second (the recorders look every 0.1 s).")
]
SeedOpt = Annotated[int, typer.Option(help="The simulation's seed (faults derive theirs from it).")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="A PostgreSQL URL to record into (default: a throwaway server of our own).",
        callback=secret_on_command_line,
    ),
]
DurationOpt = Annotated[
    float | None,
    typer.Option(help="Simulate only this many seconds (default: the scenario's duration_s)."),
]
BaselineCacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline-cache",
        help="A directory where the baseline (the simulator's own observers replayed: the same "
        "for every run of one scenario, seed, speed and duration) is kept as JSON and reused by "
        "later calls. Only for a series of calls on the same gapwatch code (the test suite's); "
        "default: computed by each call.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
LbOpt = Annotated[
    str | None,
    typer.Option(
        "--lb",
        help="The cloud LB the simulated CCM drives and the lab's poller records: aws (moto's "
        "ELBv2), alibaba (SLB), tencent (CLB), huawei (ELB v3). Default: the scenario's "
        "(alibaba-slb, tencent-clb*), else aws.",
    ),
]


def _lb(value: str | None) -> str | None:
    from gapwatch.recorder.lab.cloudlb import LB_CHOICES

    if value is not None and value not in LB_CHOICES:
        raise typer.BadParameter(f"{value!r}: one of {', '.join(LB_CHOICES)}", param_hint="--lb")
    return value


def register(app: typer.Typer) -> None:
    """Add `lab` (and `lab table`) to the root `gapwatch` app."""
    app.add_typer(lab_app)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@lab_app.callback()
def lab(
    ctx: typer.Context,
    scenario: Annotated[
        str,
        typer.Option("--scenario", "-s", help="A simulator preset (as `gapwatch simulate` lists)."),
    ] = "seed-3node",
    speed: SpeedOpt = 5.0,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated faults, one lab run each: sigkill, sigkill-all, watch-drop, "
            "watch-stall, gone-410, apiserver-restart, pg-stop, elb-throttle, takeover, poison, "
            "clock-jump, probe-timeout, probe-refused."
        ),
    ] = None,
    seed: SeedOpt = 1,
    fault_seed: Annotated[
        int | None,
        typer.Option(
            help="The faults' own seed (their moments; default: --seed). `gapwatch lab table` "
            "prints each run's: --seed 1 --fault-seed S repeats one of its runs."
        ),
    ] = None,
    db: DbOpt = None,
    keep: Annotated[
        bool,
        typer.Option(help="Keep the store (and the throwaway server running) for the dashboard."),
    ] = False,
    duration: DurationOpt = None,
    spool_bytes: Annotated[
        int | None,
        typer.Option(
            help="The recorders' spool bound in bytes (default: the recorder's 16 MiB; the "
            "pg-stop fault uses 256 KiB so that the outage fills it)."
        ),
    ] = None,
    long: Annotated[
        bool,
        typer.Option(
            "--long",
            help="The faults' long version, as `lab table --long` runs them (longer hangs, "
            "stalls and outages): repeats one run of the long table.",
        ),
    ] = False,
    lb: LbOpt = None,
    baseline_cache: BaselineCacheOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the lab once per fault (or once without faults) and print recorded vs true windows."""
    if ctx.invoked_subcommand is not None:
        return
    from gapwatch.recorder.lab.faults import make_fault
    from gapwatch.recorder.lab.pg import lab_store
    from gapwatch.recorder.lab.run import run_lab
    from gapwatch.recorder.lab.session import LabSettings

    settings = LabSettings(
        scenario=scenario,
        seed=seed,
        speed=speed,
        duration_s=duration,
        db=db,
        keep=keep,
        spool_bytes=spool_bytes,
        lb=_lb(lb),
        baseline_cache=baseline_cache,
    )
    names = [n.strip() for n in (faults or "").split(",") if n.strip()]
    chosen = seed if fault_seed is None else fault_seed
    plans: list[Fault | None] = [make_fault(n, chosen, long=long) for n in names] or [None]
    with lab_store(db, keep=keep, progress=_progress) as store:
        reports = [run_lab(settings, store, _progress, fault) for fault in plans]
    if json_out:
        import json

        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for report in reports:
            print(render(report))
    raise typer.Exit(0 if all(r.ok for r in reports) else 1)


def render(report: LabReport) -> str:
    """The human report of one run: windows side by side, the figures, the transitions."""
    s = report.settings
    lines = [
        f"lab {s.scenario} seed {s.seed} speed {s.speed:g}x lb {s.lb_name} fault {report.fault}"
        + (f" (seed {report.fault_seed})" if report.fault_seed is not None else "")
        + ": "
        f"cluster {report.cluster}" + (f" in {report.db}" if s.keep else ""),
        f"{'node':<10} {'true class':<30} {'true start-end (s)':>19}   "
        f"{'start-end (s)':>15} {'error':>6}  recorded class",
    ]
    for p in report.lab.pairs:
        # the recorded class last, worded as the product words it (undecided alternatives too)
        recorded = (
            f"{p.start:7.2f}-{p.end:7.2f} {p.error_s:6.2f}  {p.class_text}"
            if p.cls is not None
            and p.start is not None
            and p.end is not None
            and p.error_s is not None
            else "(not found)"
        )
        lines.append(
            f"{p.node:<10} {p.true_class:<30} {p.true_start:9.2f}-{p.true_end:9.2f}   {recorded}"
        )
    for fp in report.lab.false_positives:
        lines.append(f"false positive: {fp}")
    for name, score in (("recorded", report.lab), ("baseline", report.baseline)):
        d: dict[str, Any] = score.as_dict()
        lines.append(
            f"{name}: recall {d['found']}/{d['true_windows']}, false positives "
            f"{d['false_positives']}, class agreement {d['class_agreement']}/{d['found']}"
            + (f" (matched-undecided {n})" if (n := d["matched_undecided"]) else "")
            + ", "
            f"max boundary error {d['max_boundary_error_s']:.2f} s"
        )
    lines.append(f"sampling bound {report.bound_s:.2f} s (simulated)")
    for kind, count in report.transitions.items():
        lines.append(
            f"transitions {kind}: {count.expected} expected, {len(count.lost)} lost, "
            f"{len(count.duplicated)} duplicated"
            + "".join(f"\n  lost {x[:160]}{_around(count.around, x)}" for x in count.lost[:5])
            + "".join(
                f"\n  duplicated {x[:160]}{_around(count.around, x)}" for x in count.duplicated[:5]
            )
        )
    lines += [f"note: {n}" for n in report.notes]
    lines += [f"MISMATCH: {p}" for p in report.problems]
    undecided = report.ok and report.lab.matched_undecided
    lines.append("MATCH (undecided)" if undecided else "MATCH" if report.ok else "DIFFERENT")
    return "\n".join(lines)


def _around(around: dict[str, str], lost: str) -> str:
    """The stored rows nearest a lost transition (ledger.around), or those a duplicated one
    repeats (ledger.twice), on a line of their own."""
    return f"\n    {around[lost][:400]}" if lost in around else ""


@lab_app.command("table")
def table(
    long: Annotated[
        bool,
        typer.Option(
            "--long",
            help="Every fault, most several times, in its long version (20 SIGKILL runs, "
            "PostgreSQL stopped 60 s, ...). Without it: sigkill, gone-410, poison and "
            "probe-refused once each, as CI runs it.",
        ),
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated faults of the plan to run.")
    ] = None,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="A simulator preset.")] = (
        "seed-3node"
    ),
    speed: SpeedOpt = 10.0,
    seed: SeedOpt = 1,
    first_seed: Annotated[int, typer.Option(help="Run i of a fault uses seed first-seed + i.")] = 1,
    db: DbOpt = None,
    duration: Annotated[
        float, typer.Option(help="Simulate only this many seconds of the scenario.")
    ] = 100.0,
    lb: LbOpt = None,
    baseline_cache: BaselineCacheOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the fault table: fault | runs | transitions expected | lost | duplicated | windows
    matched (and the seeds of every run). Exit 1 unless every row is 0 lost, 0 duplicated and
    every run's windows matched (plainly, or matched-undecided: counted apart)."""
    from gapwatch.recorder.lab.pg import lab_store
    from gapwatch.recorder.lab.session import LabSettings
    from gapwatch.recorder.lab.table import LONG_PLAN, SHORT_PLAN, render_table, run_table

    plan = LONG_PLAN if long else SHORT_PLAN
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        plan = {n: (LONG_PLAN if long else SHORT_PLAN).get(n, 1) for n in wanted}
    settings = LabSettings(
        scenario=scenario,
        seed=seed,
        speed=speed,
        duration_s=duration,
        db=db,
        lb=_lb(lb),
        baseline_cache=baseline_cache,
    )
    with lab_store(db, keep=False, progress=_progress) as store:
        rows = run_table(settings, store, plan, _progress, first_seed, long=long)
    if json_out:
        import json

        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(render_table(rows))
    good = all(
        r.lost == 0 and r.duplicated == 0 and r.matched + r.undecided == r.runs for r in rows
    )
    raise typer.Exit(0 if good else 1)
