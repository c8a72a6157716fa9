"""`gapwatch sql QUERY`: one read-only query from a terminal, through the console's guard.

The same rules as the dashboard's SQL console (dashboard/sqlconsole.py, dashboard/sqlguard.py):
on PostgreSQL the login must be harmless (never a superuser) and the query runs as
gapwatch_reader, read-only, under a statement timeout; rows stream from a server-side cursor
straight to standard output, so `--limit 0 --csv` exports any number of rows in flat memory.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from gapwatch.recorder.cliutil import (
    EXIT_PARTIAL,
    CsvFlag,
    FormatOption,
    JsonFlag,
    OutputFormat,
    emit_rows,
    pick_format,
    secret_on_command_line,
    stderr,
)
from gapwatch.recorder.csvrows import row_writer
from gapwatch.recorder.visible import machine_stdout

SqlDbOption = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="URL",
        envvar=["GAPWATCH_CONSOLE_DB", "GAPWATCH_DB"],
        callback=secret_on_command_line,
        help=(
            "Store URL to query (env GAPWATCH_CONSOLE_DB, then GAPWATCH_DB). On PostgreSQL a "
            "login that is a member of gapwatch_reader and nothing more, with a temp_file_limit "
            "and no set_config or pg_logical_emit_message (docs/dashboard.md, 'The SQL console "
            "cannot reach the server'; deploy/sql/roles.sql makes one)."
        ),
    ),
]


def register(app: typer.Typer) -> None:
    """Add `sql` to the root `gapwatch` app."""
    app.command("sql")(sql)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def sql(
    query: Annotated[str, typer.Argument(help="One SELECT, WITH, VALUES or TABLE statement.")],
    db: SqlDbOption = "sqlite:///gapwatch.db",
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Stop after this many rows (0: no limit).")
    ] = 1000,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=0, help="Stop after this much cell text (0: none).")
    ] = 256 * 1024 * 1024,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Time limit of the whole query (s).")
    ] = 30.0,
) -> None:
    """Run one read-only SQL query against the store and print the rows.

    Writes, COPY, DO, several statements and the server's file and program functions are
    refused. Exit code 3 when the output was cut at --limit or --max-bytes.
    """
    from gapwatch.dashboard.sqlconsole import open_query
    from gapwatch.dashboard.sqlguard import Limits

    chosen = pick_format(fmt, as_json, as_csv)
    limits = Limits(timeout_s=timeout, row_limit=limit, byte_limit=max_bytes)
    out = machine_stdout()  # exact to a pipe or a file; escapes on a terminal (visible.py)
    with open_query(db, query, limits) as stream:
        if chosen is OutputFormat.table:
            rows = [dict(zip(stream.columns, row, strict=True)) for row in stream]
            emit_rows(rows, stream.columns, chosen)
            if not rows:  # a header row alone read as output cut off, or a query not run
                print("(0 rows)")
        elif chosen is OutputFormat.csv:
            writer = row_writer(out)
            writer.writerow(stream.columns)
            for row in stream:
                writer.writerow(["" if v is None else v for v in row])
        else:
            out.write("[")
            for n, row in enumerate(stream):
                item = dict(zip(stream.columns, row, strict=True))
                out.write(("," if n else "") + "\n" + orjson.dumps(item, default=_default).decode())
            out.write("\n]\n")
    out.flush()
    if stream.truncated:
        why = f": {stream.cut}" if stream.cut else ""
        stderr.print(
            f"cut after {stream.count} rows (--limit {limit} / --max-bytes {max_bytes}){why}"
        )
        raise typer.Exit(EXIT_PARTIAL)
