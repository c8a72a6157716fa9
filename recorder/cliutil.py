"""What every gapwatch command shares: options, output formats, progress, clean errors.

Conventions (README.md, Commands): `--db URL` (env GAPWATCH_DB, default sqlite:///gapwatch.db);
`--cluster NAME` (env GAPWATCH_CLUSTER); human tables by default, `--json` / `--csv` for machines;
progress on stderr; an error is one line on stderr and a non-zero exit, never a traceback.

Everything a command's signature needs is imported at the top (typer, rich's Console); the rest
(the store, orjson, rich tables and progress bars) when a command runs, so `--help` stays fast.

Exit codes: 0 ok; 1 error (nothing or not everything done); 2 usage; 3 partial (some input lines
were rejected and reported, the rest was stored).
"""

from __future__ import annotations

import difflib
import io
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from gapwatch.recorder.dburl import holds_secret
from gapwatch.recorder.defaults import DEFAULT_URL as DEFAULT_URL
from gapwatch.recorder.errors import GapwatchError
from gapwatch.recorder.progresslines import advance_to as advance_to
from gapwatch.recorder.timefmt import parse_time
from gapwatch.recorder.visible import VisibleConsole, machine_stdout, shown, visible

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gapwatch.recorder.writer import Derive

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
# what a shell reports for a C tool killed by SIGPIPE (128 + 13): `gapwatch gaps | head` ends the
# way `git log | head` does, not with the exit code of an error
EXIT_PIPE_CLOSED = 141

#: every message, warning and progress line; its strings made visible (recorder/visible.py)
stderr: Console = VisibleConsole(stderr=True, highlight=False, soft_wrap=True)


#: `Context.meta` key (shared by every context of one command line) of the `--db` given before
#: the command (dashboard.cli's root options)
ROOT_DB = "gapwatch.root_db"


def secret_on_command_line(
    ctx: typer.Context, param: typer.CallbackParam, value: str | None
) -> str | None:
    """A `--db` callback: a URL typed on the command line with a password in it is readable by
    every user of the machine while the command runs (`ps`, /proc/PID/cmdline); say so once, on
    stderr, without the password. Not when the URL came from the environment or a file.

    A command not given its own `--db` takes the one given before it (`gapwatch --db URL gaps`,
    `ROOT_DB`), over the environment and the default: the README says every command takes
    `--db`, and a newcomer who put it first was told only "No such option: --db"."""
    source = ctx.get_parameter_source(param.name or "")
    given = ctx.meta.get(ROOT_DB)
    if given is not None and (source is None or source.name != "COMMANDLINE"):
        return str(given)  # warned of, if need be, where it was typed
    if value and source is not None and source.name == "COMMANDLINE" and holds_secret(value):
        option = param.opts[0] if param.opts else "--db"
        envvars = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
        instead = f"give the URL in {envvars[0]} instead, or " if envvars else ""
        stderr.print(
            f"warning: the {option} URL holds a password, and every user of this machine can "
            "read a command line while it runs (ps, /proc/PID/cmdline): "
            f"{instead}leave the password out of the URL for libpq to find in PGPASSWORD, "
            "PGPASSFILE or ~/.pgpass (README.md, Commands)",
            markup=False,
        )
    return value


DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="GAPWATCH_DB",
        metavar="URL",
        callback=secret_on_command_line,
        # no word longer than about 22 characters: Typer's rich help cuts a word wider than
        # its column with "…" (a URL spelled out in full lost its end below 110 columns)
        help=(
            "Event store URL: sqlite:///FILE, or postgresql:// with USER@HOST:PORT/DB. A "
            "password here shows in ps: use the variable, PGPASSWORD or ~/.pgpass."
        ),
        show_default=True,
    ),
]
ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", envvar="GAPWATCH_CLUSTER", help="Only this cluster."),
]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output: a table for people, json or csv for machines."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Shorthand for --format csv.")]


def pick_format(fmt: OutputFormat, as_json: bool, as_csv: bool) -> OutputFormat:
    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv exclude each other")
    if as_json:
        return OutputFormat.json
    if as_csv:
        return OutputFormat.csv
    return fmt


#: `--since 2h`: a duration back from now, as `kubectl logs --since` takes it.
_AGO = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: `--since 2026-01-01`: a date alone, as a postmortem names the day, is its 00:00 UTC (a
#: date-time without a zone stays refused: its hour means nothing until a zone is said).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: The help of every --since/--until option (export, gaps, rollouts, timeline, whatif, report).
SINCE_HELP = "From this RFC 3339 time, this date (00:00 UTC), or this long ago: 2h, 7d."
UNTIL_HELP = "Before this RFC 3339 time, this date (00:00 UTC), or this long ago."


def time_option(
    value: str | None, option: str, *, now: Callable[[], datetime] | None = None
) -> datetime | None:
    """An RFC 3339 option value, a date alone (its 00:00 UTC), or a duration back from `now`
    (`30m`, `2h`, `7d`: an incident an hour ago needs no timestamp typed); None for None; a bad one
    is a usage error naming the option."""
    if value is None:
        return None
    ago = _AGO.match(value.strip())
    if ago:
        try:
            back = timedelta(seconds=float(ago.group(1)) * _UNIT_S[ago.group(2)])
            return (now or (lambda: datetime.now(UTC)))() - back
        except OverflowError:  # 99999999d: before the year 1, or beyond timedelta's days
            hint = "" if option == "--at" else f": leave {option} out for no bound"
            raise typer.BadParameter(
                f"{value!r} reaches back before the year 1{hint}", param_hint=option
            ) from None
    try:
        return _day_start(value) if _DATE.match(value.strip()) else parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{exc}, nor a duration back from now such as 30m, 2h or 7d", param_hint=option
        ) from exc


def _day_start(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(), UTC)
    except ValueError:  # 2026-02-30: date's own message names no value
        raise ValueError(f"{text!r} is not a date") from None


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the composition root (dashboard.cli) hands the commands below it, as the root
    context's `obj`: the EventWriter derive hook that fills replay's facts, so the recorder's
    commands (import, simulate --db, record) derive them without importing replay."""

    derive: Derive


def wiring(ctx: typer.Context) -> Wiring:
    """The Wiring of the `gapwatch` app this command runs in."""
    found = ctx.find_object(Wiring)
    if found is None:
        raise GapwatchError(f"{ctx.command_path}: run it through the gapwatch app (no Wiring)")
    return found


def logs_to_stderr() -> None:
    """A command's log lines (structlog's: `projections were built by other replay code:
    rebuilding them`, `derived by other code`) go to stderr, as its progress does: structlog
    prints to stdout unless told, and the first `gapwatch gaps --json` after an upgrade printed
    its warning before the JSON. Only where the output goes changes (`gapwatch record` sets
    its own JSON lines, on stderr too); sys.stderr is looked up at each line (a test runner
    swaps it)."""
    import structlog

    structlog.configure(logger_factory=lambda *_args: structlog.PrintLogger(sys.stderr))


def open_store(db: str, *, require_schema: bool = True, create: bool = False) -> Engine:
    """The engine for `--db`, after checking the schema is current (unless told not to).

    Only `create=True` (`gapwatch db upgrade`) may bring a new SQLite file into being: a
    mistyped path on any other command is an error, not an empty store."""
    from gapwatch.recorder.store import make_engine, require_current, require_existing_file

    logs_to_stderr()
    if not create:
        require_existing_file(db)
    engine = make_engine(db)
    if require_schema:
        require_current(engine)
    return engine


def tcp_port(ctx: typer.Context, param: typer.CallbackParam, value: int | None) -> int | None:
    """An option callback: a TCP port, 1-65535. Checked here rather than with min/max: Typer's
    help shows a range as `[1<=x<=65535]` beside the type, and that column pushed probe's help
    past 80 columns."""
    if value is not None and not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port (1-65535)")
    return value


def usage_error(message: str) -> NoReturn:
    """Print `error: MESSAGE` as one line on stderr and exit 2 (usage)."""
    stderr.print(f"error: {message}", markup=False)
    raise typer.Exit(EXIT_USAGE)


def close_matches(word: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """The known names closest to `word`; names that contain it (or it them) come first."""
    pool = sorted(set(choices))
    low = word.lower()
    inside = [c for c in pool if low and (low in c.lower() or c.lower() in low)]
    fuzzy = difflib.get_close_matches(word, pool, n=n, cutoff=0.5)
    return list(dict.fromkeys(inside + fuzzy))[:n]


def not_found(
    what: str, value: str, option: str, choices: Iterable[str], where: str = ""
) -> NoReturn:
    """`no cluster 'nope' in this store (--cluster); close matches: seed, aws`, exit 2."""
    pool = sorted(set(choices))
    close = close_matches(value, pool)
    # stored names, one line each: a newline in one could forge a line of the error
    if close:
        hint = "; close matches: " + ", ".join(visible(c, lines=False) for c in close)
    elif pool:
        listed = ", ".join(visible(c, lines=False) for c in pool[:8])
        hint = f"; known: {listed}" + (", ..." if len(pool) > 8 else "")
    else:
        hint = "; the store knows none"
    usage_error(f"no {what} {value!r} {where or 'in this store'} ({option}){hint}")


def check_range(since: datetime | None, until: datetime | None) -> None:
    """`--since` must lie before `--until`."""
    if since is not None and until is not None and since >= until:
        usage_error(
            f"--since {since.isoformat()} is not before --until {until.isoformat()}: "
            "the range is empty"
        )


def known_clusters(engine: Engine) -> list[str]:
    """Every cluster the store's events name."""
    from sqlalchemy import text

    from gapwatch.recorder.store import translate_errors

    with translate_errors(engine), engine.connect() as conn:
        return [c for (c,) in conn.execute(text("SELECT DISTINCT cluster FROM events"))]


def check_data_in_range(
    engine: Engine,
    since: datetime | None,
    until: datetime | None,
    cluster: str | None,
    *,
    until_option: str = "--until",
) -> None:
    """For a command whose answer came back empty: a `--since`/`--until` range that lies wholly
    outside the recorded events is an error naming what the store holds, not "nothing happened"
    (`gaps --since` a day after the data once answered that the LB never misrouted)."""
    from gapwatch.recorder.timefmt import format_time

    span = recorded_span(engine, cluster)
    if span is None or not outside(span, since, until):
        return
    bounds = (("--since", since), (until_option, until))
    asked = " ".join(f"{name} {format_time(t)}" for name, t in bounds if t)
    whose = f"cluster {cluster!r}" if cluster is not None else "the store"
    usage_error(
        f"nothing recorded in the range asked ({asked}): {whose} holds events from "
        f"{format_time(span[0])} to {format_time(span[1])}"
    )


def recorded_span(engine: Engine, cluster: str | None) -> tuple[datetime, datetime] | None:
    """The first and last observed_at of the store's events (of `cluster`), None when none."""
    from sqlalchemy import func, select

    from gapwatch.recorder.store import translate_errors
    from gapwatch.recorder.tables import events

    query = select(func.min(events.c.observed_at), func.max(events.c.observed_at))
    if cluster is not None:
        query = query.where(events.c.cluster == cluster)
    with translate_errors(engine), engine.connect() as conn:
        first, last = conn.execute(query).one()
    return None if first is None else (first, last)


def outside(
    span: tuple[datetime, datetime], since: datetime | None, until: datetime | None
) -> bool:
    """Whether [since, until) lies wholly outside `span` (a bound left out is open)."""
    first, last = span
    return (since is not None and since > last) or (until is not None and until <= first)


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        from gapwatch.recorder.timefmt import format_time

        return format_time(value)
    return value


def emit_rows(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    out: Callable[[str], None] | None = None,
) -> None:
    """Print rows as a rich table, a JSON array, or CSV with a header. JSON and CSV go out exact
    to a pipe or a file, with control characters as escapes on a terminal; a table's cells
    always show them as escapes (recorder/visible.py)."""
    write = out or (lambda text: machine_stdout().write(text))
    if fmt is OutputFormat.json:
        import orjson

        write(
            orjson.dumps(
                [{c: _plain(r.get(c)) for c in columns} for r in rows],
                option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                default=str,
            ).decode()
            + "\n"
        )
    elif fmt is OutputFormat.csv:
        buffer = io.StringIO()
        from gapwatch.recorder.csvrows import row_writer

        writer = row_writer(buffer)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else _plain(r.get(c)) for c in columns])
        write(buffer.getvalue())
    else:
        from rich.table import Table

        from gapwatch.recorder.humantable import fits, print_records, terminal_width

        cells = [
            {c: "" if r.get(c) is None else visible(str(_plain(r.get(c)))) for c in columns}
            for r in rows
        ]
        width = terminal_width()
        if cells and not fits(cells, columns, width):
            print_records(cells, columns, title=title, width=width)
            return
        table = Table(title=title, show_lines=False)
        for c in columns:
            # a cell too wide for the terminal wraps: never cut with an ellipsis (`db stats`'
            # first and last times read `2026-12-04T2…` in a pipe's 80 columns)
            table.add_column(c, overflow="fold")
        for cell in cells:
            table.add_row(*(cell[c] for c in columns))
        VisibleConsole(soft_wrap=False).print(table)


@contextmanager
def progress(description: str, total: float | None, *, unit_bytes: bool = False) -> Iterator[Any]:
    """A progress bar on stderr; yields advance(n). When stderr is not a terminal, a plain line
    at most every LOG_EVERY_S seconds instead, none for work done sooner
    (recorder.progresslines)."""
    if not stderr.is_terminal:
        from gapwatch.recorder.progresslines import line_progress

        yield line_progress(
            description,
            total,
            lambda text: stderr.print(text, markup=False, highlight=False),
            unit_bytes=unit_bytes,
        )
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    count_col = DownloadColumn() if unit_bytes else MofNCompleteColumn()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        count_col,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: float) -> None:
            bar.advance(task, n)

        yield advance


@contextmanager
def step_progress(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """`progress` as a progresslines.Track, for the steps of work that is long only on a large
    store (`gapwatch replay --rebuild`): a bar in a terminal (gone when the step ends); in a log,
    `progress`'s lines, so a step of seconds prints none (it once printed nothing below 100,000
    items, a count standing in for the time the lines now go by)."""
    with progress(description, total) as advance:
        yield advance


def run_app(app: typer.Typer) -> None:
    """Run the CLI; gapwatch's own errors and OS errors (files) become one line on stderr and
    exit code 1. Everything it prints shows control characters as escapes (`shown`,
    recorder/visible.py): a name stored from the log cannot drive the terminal.

    Ctrl-C outside a command's own handling (recorder.interrupt, which says what was committed)
    says `interrupted`: Typer turns that KeyboardInterrupt into a silent exit 130 (its Exit,
    caused by the interrupt), which left a user who pressed Ctrl-C while an import was starting
    with no word at all."""
    try:
        with shown():
            app()
    except BrokenPipeError:
        _stdout_closed()
    except GapwatchError as exc:
        stderr.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        # a file the user named cannot be written or read (`report -o missing/dir/x.html`,
        # `--errors`, parquet): one line, not Typer's traceback
        said = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        stderr.print(f"error: {said}", markup=False)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):
            # rich's Console.on_broken_pipe: stdout already pointed at /dev/null, SystemExit(1)
            _stdout_closed()
        if exc.code == 130 and isinstance(
            getattr(exc.__context__, "__cause__", None), KeyboardInterrupt
        ):
            stderr.print("interrupted")
        raise


def _stdout_closed() -> NoReturn:
    """The reader of stdout went away (`| head`): quiet, and exit as a C tool killed by SIGPIPE.

    Python ignores SIGPIPE, so the write raised BrokenPipeError instead (rich turns it into
    SystemExit(1)); exit 1 read as an error to a script under `set -o pipefail`. stdout goes to
    /dev/null first, so the interpreter's last flush at exit does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_PIPE_CLOSED)
