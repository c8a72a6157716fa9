"""The SQL console: one ad-hoc query against the store, read-only, time-, row- and byte-limited.

Every query runs on a connection of its own that cannot write, with a layer per backend:

- PostgreSQL: dashboard/sqlguard.py. The login must be harmless (never a superuser: `SET ROLE`
  alone can be undone by the query); the query runs in a READ ONLY transaction with
  `statement_timeout`, `lock_timeout`, `work_mem` and an idle timeout, under
  `SET LOCAL ROLE gapwatch_reader` (SELECT on gapwatch's tables only), as a server-side cursor
  fetched in chunks; then rolled back and the connection closed.
- SQLite: the file opened `mode=ro`, `PRAGMA query_only=ON`, an authorizer that allows only
  reading (SELECT, reads, functions, recursive CTEs, a few schema PRAGMAs), a length limit on
  every string and blob the query makes (`zeroblob(7e9)` fails at once), temporary data in
  memory only, and a progress handler that interrupts the query at the deadline or past 256 MiB
  of it (dashboard/sqlitemem.py). Python's sqlite3 runs one statement per call.

Rows are streamed and cut at `row_limit` rows or `byte_limit` bytes of cell text (`truncated`
says there were more, `cut` which limit and what to do; 0 means no limit, for `gapwatch sql`
writing to a pipe); on PostgreSQL a row wider than dashboard/sqlgate.py's cap is not fetched
(the query is cut there, `cut` naming the row and its width) and each FETCH asks for what the
bytes left hold. Errors are
QueryRejected (tried to write or escape; UnsafeLogin for a privileged login), QueryTimeout, or
QueryError with the database's own message.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson
import psycopg
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from gapwatch.dashboard import sqliterow
from gapwatch.dashboard.errors import QueryError, QueryRejected, QueryTimeout
from gapwatch.dashboard.sqlgate import GatedFetch, gated, row_cap, wide_row
from gapwatch.dashboard.sqlguard import Limits, arm, begin_guarded, check_login
from gapwatch.dashboard.sqlitemem import Stopper, cap_heap
from gapwatch.dashboard.sqliteprintf import Printf
from gapwatch.dashboard.sqlwatchdog import Watchdog
from gapwatch.recorder.partitions import PARTITION_TABLE
from gapwatch.recorder.store import normalize_url, redact

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ROW_LIMIT = 1000
DEFAULT_BYTE_LIMIT = 32 * 1024 * 1024
#: Longest string or blob a SQLite console query may build (SQLITE_LIMIT_LENGTH), and less in a
#: row of more than 4 columns: a row holds 64 MiB at most (dashboard/sqliterow.py).
SQLITE_VALUE_LIMIT = sqliterow.VALUE_BYTES
#: Most columns a SQLite console row may have (SQLITE_LIMIT_COLUMN; the widest relation has 24);
#: rows are fetched one at a time, so a query cut at its byte limit has held one row beyond it,
#: not 500.
SQLITE_COLUMN_LIMIT = sqliterow.COLUMNS
#: Functions no console query calls: fts3_tokenizer hands out (and with two arguments replaces)
#: a C pointer of the library; load_extension loads a shared library.
_SQLITE_DENIED_FUNCTIONS = {"fts3_tokenizer", "load_extension"}
#: Rows fetched from the server per round trip.
CHUNK = 500

_SQLITE_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_SQLITE_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
}


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_s: float
    #: why the rows were cut, as a sentence (RowStream.cut); "" where they were not
    cut: str = ""


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view of the store and its columns (name, type)."""

    name: str
    kind: str
    columns: list[tuple[str, str]]


@dataclass(slots=True)
class RowStream:
    """An open query: its columns and its rows, cut at the limits (then `truncated` is set,
    and `cut` says which limit, at which row, and how to see more)."""

    columns: list[str]
    fetch: Callable[[int], list[Any]]
    limits: Limits
    translate: Callable[[Exception], QueryError]
    truncated: bool = False
    count: int = 0
    size: int = field(default=0)
    #: a PostgreSQL query's gate (dashboard/sqlgate.py): how many rows to ask for, and whether
    #: it stopped at a row too wide to fetch
    gate: GatedFetch | None = None
    cut: str = ""

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        rows_max, bytes_max = self.limits.row_limit, self.limits.byte_limit
        while True:
            want = CHUNK if self.gate is None else self.gate.count(self.size, CHUNK)
            try:
                chunk = self.fetch(want)
            except (psycopg.Error, sqlite3.Error, MemoryError) as exc:
                raise self.translate(exc) from None
            if not chunk:
                if self.gate and self.gate.wide and not self.truncated:
                    self.truncated = True
                    self.cut = wide_row(self.count + 1, self.gate.wide, self.gate.cap)
                return
            for raw in chunk:
                row = tuple(_cell(v) for v in raw)
                self.size += sum(len(v) if isinstance(v, str) else 8 for v in row)
                if rows_max and self.count >= rows_max:
                    self.truncated = True
                    self.cut = f"the row limit of {rows_max:,} was reached: more rows exist"
                    return
                if bytes_max and self.size > bytes_max:
                    self.truncated = True
                    self.cut = (
                        f"the byte limit of {bytes_max:,} bytes of cell text was reached at row "
                        f"{self.count + 1:,}: more rows exist; select fewer or narrower columns "
                        "to see more rows"
                    )
                    return
                self.count += 1
                yield row


def _cell(value: Any) -> Any:
    """Values a table widget and CSV can show: JSON for dicts and lists, text for the odd ones."""
    if value is None or isinstance(value, bool | int | float | str | datetime | date):
        return value
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _clean(sql: str) -> str:
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise QueryError("empty query")
    return text


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_rest: Any) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SQLITE_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


@contextmanager
def _open_sqlite(path: str, sql: str, limits: Limits) -> Iterator[RowStream]:
    if path in ("", ":memory:"):
        raise QueryError("the SQL console needs a SQLite file, not an in-memory database")
    deadline = time.monotonic() + limits.timeout_s
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=limits.timeout_s)
    except sqlite3.Error as exc:
        raise QueryError(f"cannot open {path} read-only: {exc}") from None

    stopper = Stopper(deadline)
    value_limit = SQLITE_VALUE_LIMIT
    heap_cap = cap_heap()  # the process's SQLite heap, between two looks of the stopper
    printf = Printf(SQLITE_VALUE_LIMIT)  # no %c repeated past a value (sqliteprintf.py)

    def translate(exc: Exception) -> QueryError:
        if printf.refused is not None:
            return QueryRejected(f"query refused: {printf.refused}")
        if stopper.over_memory:
            return QueryRejected(
                f"query cancelled: its sorts and temporary tables held more than "
                f"{stopper.limit_bytes // 2**20} MiB (the SQLite console's limit)"
            )
        if isinstance(exc, MemoryError):
            cap = f"its {heap_cap // 2**20} MiB cap" if heap_cap else "no more memory"
            return QueryRejected(f"query cancelled: SQLite's memory in this process reached {cap}")
        return _sqlite_error(exc, limits.timeout_s, value_limit)

    try:
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA temp_store=MEMORY")  # sorts never spill to disk (sqlitemem.py)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_VALUE_LIMIT)
        conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, SQLITE_COLUMN_LIMIT)
        conn.set_authorizer(_sqlite_authorizer)
        conn.set_progress_handler(stopper, 2000)
        # a row's values share its 64 MiB: the limit follows the column count (sqliterow.py)
        value_limit = sqliterow.value_limit(sqliterow.result_columns(conn, sql))
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, value_limit)
        printf.set_limit(value_limit)
        printf.install(conn)
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        fetch: Callable[[int], list[Any]] = _one_row(cursor) if cursor.description else _none
        yield RowStream(columns, fetch, limits, translate)
    except (sqlite3.Error, MemoryError) as exc:
        raise translate(exc) from None
    finally:
        conn.close()
        printf.close()


def _none(_size: int) -> list[Any]:
    return []


def _one_row(cursor: sqlite3.Cursor) -> Callable[[int], list[Any]]:
    """SQLite rows one at a time (in-process, no round trip): the byte limit is checked on each."""

    def fetch(_size: int) -> list[Any]:
        return cursor.fetchmany(1)

    return fetch


def _sqlite_error(exc: Exception, timeout_s: float, value_limit: int) -> QueryError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "interrupted" in text:
        return QueryTimeout(f"query cancelled after {timeout_s:g} s")
    if "one statement" in text:
        return QueryRejected("the SQL console runs one statement at a time")
    if "readonly" in text or "not authorized" in text or "authorization denied" in text:
        return QueryRejected(f"the SQL console is read-only: {text}")
    if "too big" in text:
        share = "" if value_limit == SQLITE_VALUE_LIMIT else ", this query's share of a row"
        return QueryRejected(f"a value is larger than {value_limit} bytes{share}: {text}")
    return QueryError(text)


def _postgres_error(exc: Exception, sql: str, timeout_s: float) -> QueryError:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return QueryTimeout(f"query cancelled after {timeout_s:g} s")
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return QueryTimeout(f"waited too long for a lock: {_first_line(exc)}")
    if isinstance(
        exc,
        psycopg.errors.ReadOnlySqlTransaction
        | psycopg.errors.InsufficientPrivilege
        | psycopg.errors.FeatureNotSupported,
    ):
        return QueryRejected(f"the SQL console is read-only: {_first_line(exc)}")
    if isinstance(exc, psycopg.errors.SyntaxError):
        if "multiple commands" in str(exc):
            return QueryRejected("the SQL console runs one statement at a time")
        first = sql.lstrip("( \t\r\n").split(None, 1)[0].lower() if sql.strip("( ") else ""
        if first not in ("select", "with", "values", "table"):
            return QueryRejected(
                f"the SQL console runs one SELECT, WITH, VALUES or TABLE query, not {first!r}"
            )
    return QueryError(_first_line(exc))


@contextmanager
def _open_postgres(url: str, sql: str, limits: Limits) -> Iterator[RowStream]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    deadline = time.monotonic() + limits.timeout_s
    try:
        conn = psycopg.connect(dsn, connect_timeout=max(1, int(limits.timeout_s)))
    except psycopg.Error as exc:
        raise QueryError(f"cannot connect to {redact(url)}: {_first_line(exc)}") from None
    watchdog = Watchdog(conn, deadline - time.monotonic() + limits.grace_s)

    def translate(exc: Exception) -> QueryError:
        if watchdog.fired:
            return QueryTimeout(
                f"query cancelled after {limits.timeout_s:g} s: the server had not stopped "
                f"{limits.grace_s:g} s later, so its connection was dropped (the server may "
                "run it on until the expression it is in ends: docs/dashboard.md)"
            )
        return _postgres_error(exc, sql, limits.timeout_s)

    try:
        check_login(conn)
        begin_guarded(conn, limits)
        # A named (server-side) cursor: DECLARE takes one SELECT/VALUES/TABLE query only.
        cur = conn.cursor(name="gapwatch_console")
        cur.execute(sql)
        columns = [d.name for d in cur.description or ()]
        cap = row_cap(limits.byte_limit)
        if cap and columns:  # again, wrapped: a row too wide to fetch is not sent (sqlgate.py)
            cur.close()
            arm(conn, limits, deadline - time.monotonic())
            cur = conn.cursor(name="gapwatch_console")
            cur.execute(gated(sql, len(columns), cap))
        with cur:
            fetch = _armed_fetch(conn, cur, limits, deadline)
            gate = GatedFetch(fetch, cap, limits.byte_limit) if cap and columns else None
            yield RowStream(columns, gate or fetch, limits, translate, gate=gate)
    except psycopg.Error as exc:
        raise translate(exc) from None
    finally:
        watchdog.stop()
        conn.close()  # rolls back; session state (advisory locks, settings) dies with it


def _armed_fetch(
    conn: psycopg.Connection[Any],
    cur: psycopg.ServerCursor[Any],
    limits: Limits,
    deadline: float,
) -> Callable[[int], list[Any]]:
    """The cursor's fetch, each FETCH under the limits again and the time left to the query."""

    def fetch(size: int) -> list[Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeout(f"query cancelled after {limits.timeout_s:g} s")
        arm(conn, limits, remaining)
        return cur.fetchmany(size)

    return fetch


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def open_query(url: str, sql: str, limits: Limits) -> Iterator[RowStream]:
    """Run one read-only statement against the store at `url`; iterate the stream for rows."""
    text = _clean(sql)
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        opened = _open_sqlite(parsed.database or "", text, limits)
    else:
        opened = _open_postgres(parsed.render_as_string(hide_password=False), text, limits)
    with opened as stream:
        yield stream


#: Console queries collected at once in one process (the dashboard's sessions share it). On
#: PostgreSQL one FETCH brings up to what the login's temp_file_limit and work_mem let the
#: server hold of it, whatever the byte limit (that is counted as rows arrive): a row of 250 MB
#: through roles.sql's login (256MB) took the process to 769 MB, and three sessions at once
#: to more than the dashboard container's 2 GiB (session 38). Since session 39 a query brings
#: at most its byte limit and one row of 2 MiB (dashboard/sqlgate.py), but the turns stay: each
#: still holds its rows and their DataFrame. A query waits its own timeout for its turn.
AT_ONCE = 1
_turns = threading.BoundedSemaphore(AT_ONCE)


def run_query(
    url: str,
    sql: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
    byte_limit: int = DEFAULT_BYTE_LIMIT,
) -> QueryResult:
    """Run one read-only statement and collect its rows (cut at the limits), one such query of
    the process at a time (AT_ONCE): a query waits up to its timeout for its turn (then times
    out), and has its whole timeout from its turn."""
    started = time.monotonic()
    if not _turns.acquire(timeout=timeout_s):
        raise QueryTimeout(
            f"another console query of this dashboard still ran after {timeout_s:g} s "
            f"(they run {AT_ONCE} at a time: each may hold hundreds of MB while its rows arrive)"
        )
    try:
        limits = Limits(timeout_s=timeout_s, row_limit=row_limit, byte_limit=byte_limit)
        with open_query(url, sql, limits) as stream:
            rows = list(stream)
    finally:
        _turns.release()
    return QueryResult(
        columns=stream.columns,
        rows=rows,
        truncated=stream.truncated,
        elapsed_s=time.monotonic() - started,
        cut=stream.cut,
    )


def describe_relations(engine: Engine) -> list[Relation]:
    """The store's views then tables, each with its columns, for the console's side panel. Not
    the day partitions of `events` on PostgreSQL: `events` reads them all, and a store of 90
    days listed 90 more tables of the same 15 columns, `events_default` and 7 days ahead too."""
    insp = inspect(engine)
    out: list[Relation] = []
    for kind, names in (("view", insp.get_view_names()), ("table", insp.get_table_names())):
        for name in sorted(names):
            if name == "alembic_version" or PARTITION_TABLE.match(name):
                continue
            cols = [(c["name"], str(c["type"])) for c in insp.get_columns(name)]
            out.append(Relation(name=name, kind=kind, columns=cols))
    return out


def to_csv(result: QueryResult) -> str:
    """The result as CSV text with a header row."""
    import io

    from gapwatch.recorder.csvrows import row_writer

    buffer = io.StringIO()
    writer = row_writer(buffer)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()
