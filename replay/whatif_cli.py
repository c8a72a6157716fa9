"""`gapwatch whatif`: the recorded timeline replayed under other settings, from the command line.

What-if was the dashboard's page only (and `advise`'s proof of its own recommendation): an SRE
asking "would a 10 s preStop have closed these?" had to serve the dashboard. The command runs
the same `replay.api.whatif` over one Service (or one rollout's windows: those it owns,
replay.owned) and prints the windows left beside the count recorded; every setting left unset
stays as recorded, so with none set the answer is the recorded windows (docs/semantics.md,
"What-if").
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    ClusterOption,
    CsvFlag,
    DbOption,
    FormatOption,
    JsonFlag,
    OutputFormat,
    check_range,
    emit_rows,
    open_store,
    pick_format,
    time_option,
)
from gapwatch.replay.cli import (
    WINDOW_COLUMNS,
    ServiceOption,
    SinceOption,
    UntilOption,
    service_named,
    window_dict,
)

#: The longest setting a what-if takes, in seconds: a day. Past it (1e308, inf) the replay's
#: microsecond arithmetic overflowed, and nan compared as nothing.
MAX_SETTING_S = 86_400


def register(app: typer.Typer) -> None:
    """Add `whatif` to the root `gapwatch` app."""
    app.command("whatif")(whatif)


def whatif(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: ServiceOption = None,
    rollout: Annotated[
        str | None,
        typer.Option(
            help="Only this rollout's windows (an id from `rollouts`): those it owns, recorded "
            "and under the settings, over its start to its end plus settle_s."
        ),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    prestop: Annotated[
        float | None, typer.Option("--prestop", metavar="S", help="preStop sleep, seconds.")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option("--grace", metavar="S", help="The pods' termination grace period, seconds."),
    ] = None,
    pte: Annotated[
        bool | None,
        typer.Option("--pte/--no-pte", help="Proxy terminating endpoints (PTE) on or off."),
    ] = None,
    register_delay: Annotated[
        float | None,
        typer.Option(
            "--register-delay", metavar="S", help="CCM registration delay (or gate), seconds."
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Replay one Service's recorded timeline under other settings (preStop, grace period,
    ProxyTerminatingEndpoints, CCM registration delay) and list the gap windows left. A setting
    left unset stays as recorded: with none set, the windows are the recorded ones."""
    from dataclasses import asdict

    from gapwatch.recorder.humantable import Col, clock, print_table, seconds
    from gapwatch.recorder.timefmt import from_micros
    from gapwatch.replay import api, cli_checks
    from gapwatch.replay.model import WhatIf
    from gapwatch.replay.rollout_range import rollout_range

    for option, value in (
        ("--prestop", prestop),
        ("--grace", grace),
        ("--register-delay", register_delay),
    ):
        if value is not None and value < 0:
            raise typer.BadParameter(f"{value} is negative", param_hint=option)
        if value is not None and not value <= MAX_SETTING_S:  # nan, inf, 1e308: a traceback
            raise typer.BadParameter(
                f"{value} is not a number of seconds up to {MAX_SETTING_S:,} (a day)",
                param_hint=option,
            )
    settings = WhatIf(
        prestop_s=prestop,
        termination_grace_s=grace,
        proxy_terminating_endpoints=pte,
        ccm_register_delay_s=register_delay,
    )
    if rollout is not None and (since is not None or until is not None):
        raise typer.BadParameter("--rollout sets the span: no --since/--until with it")
    lo, hi = time_option(since, "--since"), time_option(until, "--until")
    check_range(lo, hi)
    engine = open_store(db)
    cli_checks.check_filters(engine, cluster=cluster, service=service)
    chosen = None
    if rollout is not None:
        full = cli_checks.resolve_rollout(engine, rollout, cluster)
        (chosen,) = [r for r in api.rollouts(engine, cluster=cluster) if r.id == full]
        svc = chosen.service
        lo_us, hi_us = rollout_range(chosen, api.assumptions(engine))
        lo, hi = from_micros(lo_us), from_micros(hi_us)
    else:
        svc = service_named(engine, service, cluster)
    recorded = api.windows(engine, cluster=svc.cluster, service=svc.key, since=lo, until=hi)
    if chosen is not None:  # its own: a neighbour's windows may start inside its range
        recorded = [w for w in recorded if w.rollout == chosen.id]
    after = api.whatif(engine, svc, settings, since=lo, until=hi, rollout=chosen)
    asked = {k: v for k, v in asdict(settings).items() if v is not None}
    blind = cli_checks.blind_note(
        engine, cluster=svc.cluster, service=svc.key, windows=len(recorded)
    )
    notes = [blind] if blind else []
    rows: list[dict[str, Any]] = [window_dict(w) for w in after]
    out = pick_format(fmt, as_json, as_csv)
    if out is OutputFormat.json:
        import orjson

        doc = {
            "cluster": svc.cluster,
            "service": svc.key,
            "settings": asked,
            "windows_recorded": len(recorded),
            "windows": rows,
            "notes": notes,
        }
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    if out is OutputFormat.csv:
        emit_rows(rows, WINDOW_COLUMNS, out)
        return
    said = ", ".join(f"{k}={v}" for k, v in asked.items()) or "nothing changed (as recorded)"
    print(
        f"what-if for {svc.key}, cluster {svc.cluster}: {said}: {len(after)} window(s) left, "
        f"against {len(recorded)} recorded"
    )
    for note in notes:
        print(f"note: {note}")
    if not after:
        return
    # a what-if window is a re-simulation: exact times, and nothing the samples proved, so not
    # `gaps`' duration range and evidence columns
    dated = len({from_micros(w.start_us).date() for w in after}) > 1
    table = [
        {
            "node": w.node,
            "class": w.cls,
            "start": clock(from_micros(w.start_us), dated, millis=True),
            "end": clock(from_micros(w.end_us), dated, millis=True),
            "duration": seconds(w.duration_s),
        }
        for w in after
    ]
    cols = [Col("node", "node", always=True), Col("class", "class", always=True)]
    cols += [Col(k, k, always=True) for k in ("start", "end")]
    cols.append(Col("duration", "duration", always=True, right=True))
    print_table(table, cols, title="windows under these settings (UTC)")
