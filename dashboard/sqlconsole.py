"""The SQL console: one ad-hoc query against the store, read-only, time-limited, row-limited.

Every query runs on a connection of its own that cannot write, with a layer per backend:

- PostgreSQL: a transaction started `READ ONLY` with `SET LOCAL statement_timeout`, the query
  sent with the extended protocol (one statement only, so no `COMMIT; DROP ...`), then rolled
  back whatever happened. For production, point the console at a role that may only SELECT
  (`GAPWATCH_CONSOLE_DB`): a read-only transaction still lets a superuser read server files.
- SQLite: the file opened `mode=ro`, `PRAGMA query_only=ON`, and an authorizer that allows only
  reading (SELECT, reads, functions, recursive CTEs, a few schema PRAGMAs); a progress handler
  interrupts the query at the deadline. Python's sqlite3 runs one statement per call.

At most `row_limit` rows come back (`truncated` says there were more). Errors are QueryRejected
(tried to write or escape), QueryTimeout, or QueryError with the database's own message.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson
import psycopg
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gapwatch.dashboard.errors import QueryError, QueryRejected, QueryTimeout
from gapwatch.recorder.store import make_engine, normalize_url, redact

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ROW_LIMIT = 1000

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


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view of the store and its columns (name, type)."""

    name: str
    kind: str
    columns: list[tuple[str, str]]


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


def _sqlite_authorizer(action: int, arg1: str | None, *_rest: Any) -> int:
    if action in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SQLITE_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _run_sqlite(path: str, sql: str, timeout_s: float, row_limit: int) -> QueryResult:
    if path in ("", ":memory:"):
        raise QueryError("the SQL console needs a SQLite file, not an in-memory database")
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise QueryError(f"cannot open {path} read-only: {exc}") from None
    try:
        conn.execute("PRAGMA query_only=ON")
        conn.set_authorizer(_sqlite_authorizer)
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 2000)
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchmany(row_limit + 1) if cursor.description else []
    except sqlite3.Error as exc:
        raise _sqlite_error(exc, timeout_s) from None
    finally:
        conn.close()
    return _result(columns, rows, row_limit, started)


def _sqlite_error(exc: sqlite3.Error, timeout_s: float) -> QueryError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "interrupted" in text:
        return QueryTimeout(f"query cancelled after {timeout_s:g} s")
    if "one statement" in text:
        return QueryRejected("the SQL console runs one statement at a time")
    if "readonly" in text or "not authorized" in text:
        return QueryRejected(f"the SQL console is read-only: {text}")
    return QueryError(text)


def _result(columns: list[str], rows: list[Any], limit: int, started: float) -> QueryResult:
    return QueryResult(
        columns=columns,
        rows=[tuple(_cell(v) for v in row) for row in rows[:limit]],
        truncated=len(rows) > limit,
        elapsed_s=time.monotonic() - started,
    )


def _run_postgres(url: str, sql: str, timeout_s: float, row_limit: int) -> QueryResult:
    started = time.monotonic()
    engine = make_engine(url, poolclass=NullPool)
    try:
        raw = engine.raw_connection()
    except Exception as exc:
        raise QueryError(f"cannot connect to {redact(url)}: {exc}") from None
    conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
    try:
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
            cur.execute("SET LOCAL idle_in_transaction_session_timeout = 60000")
            cur.execute(sql, prepare=True)  # extended protocol: exactly one statement
            columns = [d.name for d in cur.description or ()]
            rows = cur.fetchmany(row_limit + 1) if cur.description else []
    except psycopg.errors.QueryCanceled:
        raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as exc:
        raise QueryRejected(f"the SQL console is read-only: {_first_line(exc)}") from None
    except psycopg.errors.SyntaxError as exc:
        if "multiple commands" in str(exc):
            raise QueryRejected("the SQL console runs one statement at a time") from None
        raise QueryError(_first_line(exc)) from None
    except psycopg.Error as exc:
        raise QueryError(_first_line(exc)) from None
    finally:
        try:
            conn.rollback()
        finally:
            raw.close()
            engine.dispose()
    return _result(columns, rows, row_limit, started)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_query(
    url: str,
    sql: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
) -> QueryResult:
    """Run one read-only statement against the store at `url`; see the module docstring."""
    text = _clean(sql)
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _run_sqlite(parsed.database or "", text, timeout_s, row_limit)
    return _run_postgres(str(normalize_url(url)), text, timeout_s, row_limit)


def describe_relations(engine: Engine) -> list[Relation]:
    """The store's views then tables, each with its columns, for the console's side panel."""
    insp = inspect(engine)
    out: list[Relation] = []
    for kind, names in (("view", insp.get_view_names()), ("table", insp.get_table_names())):
        for name in sorted(names):
            if name == "alembic_version":
                continue
            cols = [(c["name"], str(c["type"])) for c in insp.get_columns(name)]
            out.append(Relation(name=name, kind=kind, columns=cols))
    return out


def to_csv(result: QueryResult) -> str:
    """The result as CSV text with a header row."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()
