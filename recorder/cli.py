"""The event-store commands: `db`, `import`, `export`; dashboard.cli registers them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    EXIT_PARTIAL,
    SINCE_HELP,
    UNTIL_HELP,
    ClusterOption,
    CsvFlag,
    DbOption,
    FormatOption,
    JsonFlag,
    OutputFormat,
    check_data_in_range,
    check_range,
    emit_rows,
    known_clusters,
    not_found,
    open_store,
    pick_format,
    progress,
    stderr,
    time_option,
    wiring,
)

if TYPE_CHECKING:
    from gapwatch.recorder.observation import Observation

db_app = typer.Typer(help="Create, migrate and inspect the event store.", no_args_is_help=True)
import_app = typer.Typer(help="Import recorded data into the event log.", no_args_is_help=True)
export_app = typer.Typer(help="Export the event log for other tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the store commands to the root `gapwatch` app."""
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = DEFAULT_URL,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create the store, or migrate it to the newest schema. Safe to run again."""
    from gapwatch.recorder import store
    from gapwatch.recorder.revisions import check_revision

    check_revision(revision)
    engine = open_store(db, require_schema=False, create=True)
    # what the store held once this upgrade held the migration lock: another replica's upgrade
    # may have run while it waited
    found, after = store.upgrade(engine, revision)
    if found == after:
        stderr.print(f"{store.redact(db)}: schema {after or 'empty'}, already current")
    else:
        stderr.print(f"{store.redact(db)}: schema {found or 'empty'} -> {after}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes everything.")],
    db: DbOption = DEFAULT_URL,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate the store down to REVISION (drops data in tables that go away)."""
    from gapwatch.recorder import store
    from gapwatch.recorder.revisions import check_revision

    check_revision(revision)
    engine = open_store(db, require_schema=False)
    try:
        agreed = yes or typer.confirm(f"Downgrade {store.redact(db)} to {revision}?")
    except typer.Abort:  # no answer: standard input closed (a script) or Ctrl-C; was "Aborted."
        stderr.print(
            "\nnot downgraded: no answer to the question (--yes downgrades without asking)",
            markup=False,
        )
        raise typer.Exit(1) from None
    if not agreed:
        stderr.print("not downgraded: the store is unchanged", markup=False)
        raise typer.Exit(1)
    store.downgrade(engine, revision)
    stderr.print(f"{store.redact(db)}: schema now {store.current_revision(engine) or 'empty'}")


@db_app.command("current")
def db_current(ctx: typer.Context, db: DbOption = DEFAULT_URL) -> None:
    """Print the store's schema revision and the code's newest one, and whether this
    gapwatch's code derived the stored facts."""
    from gapwatch.recorder import derivedby, store
    from gapwatch.recorder.coderev import revision_of
    from gapwatch.recorder.projector import FACTS

    engine = open_store(db, require_schema=False)
    have, want = store.current_revision(engine), store.head_revision()
    print(f"store: {have or 'empty'}  code: {want}  {'up to date' if have == want else 'BEHIND'}")
    if have != want:  # the row's columns are the newest schema's
        return
    with store.translate_errors(engine), engine.connect() as conn:
        row = derivedby.read(conn, FACTS)
    said = derivedby.derived_by(row, revision_of(wiring(ctx).derive)).message()
    print(f"facts: {said or 'derived by this code'}")


@import_app.command("events")
def import_events(
    ctx: typer.Context,
    files: Annotated[
        list[str], typer.Argument(help="NDJSON files (.gz is fine); '-' reads standard input.")
    ],
    db: DbOption = DEFAULT_URL,
    strict: Annotated[
        bool, typer.Option("--strict", help="Write nothing if any line is bad.")
    ] = False,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors", help="Write every rejected line, with its reason, to this NDJSON file."
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Valid lines per committed batch.")
    ] = 5000,
    show: Annotated[
        int, typer.Option(min=0, help="How many bad lines to print (0: none, counted).")
    ] = 20,
) -> None:
    """Import observations in gapwatch's NDJSON interchange (docs/observation.md).

    Valid lines are stored once (importing the same file again adds nothing); each bad line is
    reported as FILE:LINE: REASON and the exit code is 3 when any line was rejected. An empty
    input (or one of blank lines only) is named; when every input is empty the exit code is 1.
    """
    from gapwatch.recorder.importer import import_files
    from gapwatch.recorder.importers.cli import (
        check_inputs,
        hint_format,
        print_rejected,
        rejected_sink,
        report_empty,
    )
    from gapwatch.recorder.interrupt import committed_on_interrupt
    from gapwatch.recorder.ndjson import input_size

    check_inputs(files, errors, strict=strict)
    engine = open_store(db)
    sizes = [input_size(f) for f in files]
    total = sum(s for s in sizes if s) if all(sizes) else None
    with (
        committed_on_interrupt(engine),
        rejected_sink(errors) as on_error,
        progress("importing", total, unit_bytes=True) as advance,
    ):
        report = import_files(
            engine,
            files,
            derive=wiring(ctx).derive,
            strict=strict,
            batch_size=batch_size,
            on_error=on_error,
            on_bytes=advance,
        )
    report_empty(report, len(files), "observations")
    print_rejected(report, show, "lines")
    hint_format([f for f in report.unread if f in files], "events")
    if report.strict_aborted:
        stderr.print(
            f"--strict: {report.error_count} bad lines, nothing written "
            f"({report.lines_ok} good lines checked)"
        )
        raise typer.Exit(EXIT_PARTIAL)
    written = report.written
    kept = (
        f", {written.quarantined} refused by the store (quarantined)" if written.quarantined else ""
    )
    underived = (
        f", {written.underived} stored without replay facts (see the projector_failures table)"
        if written.underived
        else ""
    )
    stderr.print(
        f"{report.lines_ok} valid lines: {written.inserted} new, {written.duplicates} already "
        f"stored{kept}{underived}; {report.error_count} rejected"
    )
    if report.error_count:
        raise typer.Exit(EXIT_PARTIAL)


@export_app.command("events")
def export_events(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    since: Annotated[str | None, typer.Option(help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option(help=UNTIL_HELP)] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="ndjson (re-importable), csv or parquet.")
    ] = "ndjson",
    out: Annotated[
        str, typer.Option("--out", "-o", help="Output file ('-' is stdout; .gz compresses).")
    ] = "-",
) -> None:
    """Export the event log in id order. NDJSON exports re-import to the same log."""
    from gapwatch.recorder import exporter
    from gapwatch.recorder.ndjson import open_output

    if fmt not in ("ndjson", "csv", "parquet"):
        raise typer.BadParameter("choose ndjson, csv or parquet", param_hint="--format")
    if fmt == "parquet" and out == "-":
        raise typer.BadParameter("parquet needs a file: --out FILE.parquet", param_hint="--out")
    lo, hi = time_option(since, "--since"), time_option(until, "--until")
    check_range(lo, hi)
    engine = open_store(db)
    if cluster is not None and cluster not in (known := known_clusters(engine)):
        not_found("cluster", cluster, "--cluster", known)
    check_data_in_range(engine, lo, hi, cluster)
    rows = exporter.iter_events(engine, cluster=cluster, since=lo, until=hi)
    with progress("exporting", None) as advance:

        def counted(items: Iterator[tuple[int, Observation]]) -> Iterator[tuple[int, Observation]]:
            for item in items:
                advance(1)
                yield item

        if fmt == "parquet":
            count = exporter.export_parquet(counted(rows), out)
        else:
            with open_output(out) as stream:
                write = exporter.export_ndjson if fmt == "ndjson" else exporter.export_csv
                count = write(counted(rows), stream)
    if out != "-" or not sys.stdout.isatty():
        stderr.print(f"exported {count} events")


def stats_rows(db: str) -> list[dict[str, object]]:
    """Events per cluster, source and kind (for `gapwatch db stats`)."""
    from sqlalchemy import func, select

    from gapwatch.recorder import store
    from gapwatch.recorder.tables import events

    engine = open_store(db)
    query = (
        select(
            events.c.cluster,
            events.c.source,
            events.c.kind,
            func.count().label("events"),
            func.min(events.c.observed_at).label("first"),
            func.max(events.c.observed_at).label("last"),
        )
        .group_by(events.c.cluster, events.c.source, events.c.kind)
        .order_by(events.c.cluster, events.c.source, events.c.kind)
    )
    with store.translate_errors(engine), engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


@db_app.command("stats")
def db_stats(
    db: DbOption = DEFAULT_URL,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Count stored events per cluster, source and kind, with first and last times."""
    from gapwatch.recorder import store

    rows = stats_rows(db)
    chosen = pick_format(fmt, as_json, as_csv)
    if not rows and chosen is OutputFormat.table:
        # an empty store printed the table's frame and headers and nothing under them, as an
        # output cut short would; --json / --csv stay an empty list / a header row
        print(f"no events in {store.redact(db)} (gapwatch record, simulate or import store some)")
        return
    emit_rows(
        rows,
        ["cluster", "source", "kind", "events", "first", "last"],
        chosen,
        title="events",
    )
