"""`gapwatch assumptions`: what detection assumes where the log does not measure, and re-running
the projections under other assumptions (`--set NAME=VALUE`, `--file FILE`).

The engine is imported inside the command, so `gapwatch --help` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    DbOption,
    OutputFormat,
    emit_rows,
    open_store,
    stderr,
    step_progress,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="Assume NAME=VALUE (repeatable) and rebuild the projections under it.",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="A YAML file whose `assumptions:` mapping (or top level) sets assumptions; "
        "the projections are rebuilt under them.",
    ),
]
DefaultsFlag = Annotated[
    bool, typer.Option("--defaults", help="Rebuild the projections under the defaults.")
]


def register(app: typer.Typer) -> None:
    """Add `gapwatch assumptions` to the root app."""
    app.command("assumptions")(assumptions)


def _from_file(path: Path) -> dict[str, Any]:
    import yaml

    from gapwatch.recorder.errors import yaml_error

    try:
        loaded = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror or exc}", param_hint="--file") from exc
    except yaml.YAMLError as exc:
        raise typer.BadParameter(str(yaml_error(path, exc)), param_hint="--file") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("assumptions"), dict):
        loaded = loaded["assumptions"]
    if not isinstance(loaded, dict):
        raise typer.BadParameter(f"{path}: expected a mapping NAME: VALUE", param_hint="--file")
    return loaded


def assumptions(
    db: DbOption = DEFAULT_URL,
    set_: SetOption = None,
    file: FileOption = None,
    defaults: DefaultsFlag = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the assumptions as JSON instead of a table.")
    ] = False,
) -> None:
    """Show every assumption detection makes (value in use, default, unit, public source, what
    measurement replaces it); with --set/--file/--defaults, rebuild the projections under new
    ones first (they are recorded with the projections, and refreshes keep them)."""
    from gapwatch.replay import api, projections
    from gapwatch.replay.assumptions import (
        DEFAULTS,
        WHATIF_SOURCES,
        describe,
        parse_assumptions,
        with_values,
    )

    engine = open_store(db)
    current = api.assumptions(engine)
    if set_ or file or defaults:
        base = DEFAULTS if defaults else current
        try:
            if file is not None:
                base = with_values(_from_file(file), base, origin=str(file))
            chosen = parse_assumptions(set_ or [], base)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set/--file") from exc
        count = projections.rebuild(engine, settings=chosen, track=step_progress)
        stderr.print(f"rebuilt under these assumptions: {count} windows")
        current = chosen
    rows = describe(current)
    measured = measured_rows(engine)
    if as_json:
        import orjson

        doc = {"assumptions": rows, "what-if": WHATIF_SOURCES, "measured": measured}
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    for r in rows:
        r["value"] = "auto" if r["value"] is None else r["value"]
        r["default"] = "auto" if r["default"] is None else r["default"]
    columns = ["name", "value", "default", "unit", "source", "measured_by"]
    emit_rows(rows, columns, OutputFormat.table, title="assumptions in use")
    if measured:
        columns = ["service", "name", "value", "provenance"]
        emit_rows(measured, columns, OutputFormat.table, title="measured from the log, per Service")


def measured_rows(engine: Any) -> list[dict[str, Any]]:
    """Per LB-facing Service: the target group's settings, the watch delay, the watch skew and
    the ProxyTerminatingEndpoints gate (1 on, 0 off) and kube-proxy's lag bound (2 x the sync
    period its /configz states: replay.syncperiod) detection used, each
    `measured (n samples, what)` or `assumed (default V, source)`
    (replay.measure), and its access log's clock offset with the lines it rests on
    (replay.logclock)."""
    from gapwatch.replay import api

    out: list[dict[str, Any]] = []
    settings = api.assumptions(engine)
    for svc in api.services(engine):
        found = api.measurements(engine, svc)
        # CloudTrail's statements too, as detection uses them; the access log's clock
        lb, skew, clock = api.log_evidence(engine, svc, found.lb)
        gate = api.gate_evidence(engine, svc)
        bound = api.lag_bound_evidence(engine, svc)
        for m in (*lb.values(), found.watch, skew, gate, bound):
            out.append(
                {
                    "service": f"{svc.cluster}/{svc.key}",
                    "name": m.name,
                    "value": m.value,
                    "samples": m.samples,
                    "provenance": m.describe(),
                }
            )
        if clock is not None:
            out.append(
                {
                    "service": f"{svc.cluster}/{svc.key}",
                    "name": "access_log_clock_offset_s",
                    "value": clock.offset_us / 1e6,
                    "samples": clock.lines,
                    "provenance": clock.describe(settings),
                }
            )
    return out
