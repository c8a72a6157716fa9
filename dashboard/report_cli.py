"""`gapwatch report`: the postmortem in one file (Markdown or self-contained HTML).

dashboard.cli registers it. Heavy imports (plotly, numpy, the replay engine) happen inside the
command, so `gapwatch --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    SINCE_HELP,
    UNTIL_HELP,
    ClusterOption,
    DbOption,
    stderr,
)


class ReportFormat(StrEnum):
    md = "md"
    html = "html"


class AdviceOver(StrEnum):
    span = "span"
    history = "history"


def register(app: typer.Typer) -> None:
    """Add `report` to the root `gapwatch` app."""
    app.command("report")(report)


def report(
    rollout: Annotated[
        str | None,
        typer.Option(
            "--rollout",
            help="The rollout or node disruption: its id, or a unique prefix as "
            "`gapwatch rollouts` prints it.",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option(help=UNTIL_HELP)] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            "-f",
            help="md (tables and a dashboard link) or html (one "
            "self-contained file with the lanes figure).",
        ),
    ] = ReportFormat.md,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Write to this file ('-' is standard output; html to a terminal needs a file).",
        ),
    ] = "-",
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: Annotated[str | None, typer.Option("--service", help="Only NAMESPACE/NAME.")] = None,
    advice_over: Annotated[
        AdviceOver,
        typer.Option(
            "--advice-over",
            help="span: the settings that close this rollout's (or range's) windows, as the "
            "dashboard's rollout page advises (seconds); history: those that close every "
            "window ever recorded for the Service (the whole history replayed per candidate: "
            "~40 s on the 1.1M-event demo store). The lags are the whole history's either "
            "way; a range open on one side always gets history.",
        ),
    ] = AdviceOver.span,
    dashboard_url: Annotated[
        str, typer.Option("--dashboard-url", help="Base URL of the dashboard the report links to.")
    ] = "http://127.0.0.1:8501",
) -> None:
    """Write the postmortem of one rollout (--rollout ID) or of a time range (--since/--until):
    the gap windows per node with class, duration range, proven or possible and impact; the lanes
    figure; the measured lags; the advice and how many measurements each figure rests on.

    Example: gapwatch report --rollout ro-8ce96dbbf690 --format html -o postmortem.html
    """
    from gapwatch.dashboard import report as report_mod
    from gapwatch.dashboard import report_render
    from gapwatch.recorder.cliutil import usage_error
    from gapwatch.replay.cli_checks import open_checked, resolve_rollout

    if rollout is not None and (since is not None or until is not None):
        usage_error("--rollout and --since/--until exclude each other: pick one scope")
    if fmt is ReportFormat.html and out == "-" and sys.stdout.isatty():
        # 4.8 MB of HTML and Plotly's script poured into the terminal, for a page to open
        usage_error(
            "--format html is a page to open in a browser (about 5 MB with the lanes figure's "
            "script): write it with -o FILE.html, or redirect standard output"
        )
    engine, lo, hi = open_checked(db, cluster=cluster, service=service, since=since, until=until)
    if rollout is not None:
        rollout = resolve_rollout(engine, rollout, cluster)
    found = report_mod.collect(
        engine,
        rollout=rollout,
        since=lo,
        until=hi,
        cluster=cluster,
        service=service,
        advice_over=advice_over.value,
    )
    render = report_render.to_html if fmt is ReportFormat.html else report_render.to_markdown
    text = render(found, dashboard_url=dashboard_url)
    if out == "-":
        from gapwatch.recorder.visible import machine_stdout

        # to a pipe the document as -o writes it (its names made visible by md/html_text; the
        # word joiners md puts after a `:` kept); on a terminal every format character shown
        machine_stdout().write(text)
        return
    Path(out).write_text(text, encoding="utf-8")
    windows = sum(len(s.windows) for s in found.sections)
    stderr.print(f"wrote {out}: {len(found.sections)} Service(s), {windows} gap window(s)")
