"""`gapwatch simulate`: run a scenario into the event store (default) or to NDJSON, plus truth.

The simulator itself is imported when the command runs (only the preset names at import, for
--help).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    DbOption,
    advance_to,
    open_store,
    progress,
    stderr,
    wiring,
)
from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sim.presets import PRESETS  # plain data: the names for --help


def register(app: typer.Typer) -> None:
    """Add `simulate` to the root `gapwatch` app."""
    app.command("simulate")(simulate)


def _overrides(items: list[str], cluster: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. kube_proxy.lag_s.p50=2")
        out[key.strip()] = value
    if cluster:
        out["cluster"] = cluster
    return out


def simulate(
    ctx: typer.Context,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help=f"A preset: {', '.join(PRESETS)}."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="A scenario YAML file (may say `preset: NAME`)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 1,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Write the ground truth (NDJSON) here.")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", "-o", help="Write NDJSON here ('-' stdout) instead of the store."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override any parameter (dotted key, repeatable): --set ccm.register_delay_s=7.",
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", envvar="GAPWATCH_CLUSTER", help="Cluster name.")
    ] = None,
    db: DbOption = DEFAULT_URL,
    batch_size: Annotated[
        int,
        typer.Option(min=1, max=100_000, help="Observations per committed batch (the store)."),
    ] = 5000,  # writer.DEFAULT_BATCH, as `import events` (the writer is not imported for --help)
    second_service: Annotated[
        str | None,
        typer.Option(
            "--second-service",
            metavar="NAME",
            help="Add a second externalTrafficPolicy: Local Service NAME whose pods share the "
            "nodes (its own ports and target group; rolled 30 s after each rollout of the "
            "first). Node events must name their node (no @random, scale_down, "
            "restart_kube_proxy); ndjson or the store only.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="ndjson (every observation), or one postmortem format to test importers with: "
            "k8s-audit, cloudtrail, elb-access-log, prometheus (needs --out).",
        ),
    ] = "ndjson",
) -> None:
    """Simulate a cluster behind a cloud LB: what a recorder would record, and the truth.

    Into the store, batches are committed as they fill; Ctrl-C says how many events were
    committed, and the same command (same --seed) resumes: the simulation is deterministic and
    what is already stored is skipped.
    """
    from gapwatch.recorder.interrupt import committed_on_interrupt
    from gapwatch.recorder.ndjson import open_output
    from gapwatch.recorder.sim.config import load_scenario
    from gapwatch.recorder.sim.result import Simulation
    from gapwatch.recorder.sim.sinks import summary, to_ndjson, to_store
    from gapwatch.recorder.writer import WriteResult

    if fmt != "ndjson":
        from gapwatch.recorder.sim.formats import FORMATS

        if fmt not in FORMATS:
            raise typer.BadParameter(f"choose ndjson, {', '.join(FORMATS)}", param_hint="--format")
        if out is None:
            raise typer.BadParameter(f"--format {fmt} writes a file: add --out", param_hint="--out")
    overrides = _overrides(set_ or [], cluster)
    if config is not None:
        if scenario is not None:
            overrides.setdefault("preset", scenario)
        spec = load_scenario(str(config), overrides)
    else:
        spec = load_scenario(scenario, overrides)
    sim = Simulation(spec, seed)
    if second_service is not None:
        from gapwatch.recorder.sim.shared import SharedSimulation, check_shared, with_second_service

        if fmt != "ndjson":
            raise typer.BadParameter("ndjson or the store only", param_hint="--second-service")
        pair = with_second_service(spec, second_service)
        check_shared(pair)
        sim = SharedSimulation(pair, seed)
    written = WriteResult()
    with progress(f"simulating {spec.name}", spec.duration_s) as advance:
        sim.on_progress = advance_to(advance)
        if out is not None and fmt != "ndjson":
            from gapwatch.recorder.sim.formats import write_format

            with open_output(out) as stream:
                counts = write_format(sim, fmt, stream)
        elif out is not None:
            with open_output(out) as stream:
                counts = to_ndjson(sim, stream)
        else:
            engine = open_store(db)
            with committed_on_interrupt(engine, f"run the same command again (--seed {seed})"):
                counts = to_store(
                    sim, engine, derive=wiring(ctx).derive, batch_size=batch_size, written=written
                )
    result = sim.truth
    assert result is not None
    if truth is not None:
        result.save(truth)
    noun = "records" if out is not None and fmt != "ndjson" else "observations"
    stderr.print(summary(spec.name, seed, counts, result, noun), markup=False)
    if out is None:  # a second run of the same seed stores nothing: say so
        stderr.print(
            f"stored: {written.inserted} new, {written.duplicates} already stored", markup=False
        )
