"""Observations the store refuses even alone: kept aside, counted and logged, never blocking.

The writer (recorder/writer.py) writes a batch in one transaction. When it fails with an error
that comes from the data rather than the store (`is_poison`: a value PostgreSQL rejects, a row
over a size limit, a constraint, a derive hook that cannot read a payload), the writer splits the
batch in halves and writes each, down to the single observation that fails; that one is stored
here, in the `quarantine` table, with the error and the time, and everything else is written.
Anything else (connection lost, permissions) is a StoreError and the caller retries the batch.

The observation is kept as its NDJSON line (`gapwatch import` takes it back once the cause is
fixed), made storable first; a line that cannot be serialized at all is kept as Python's repr.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from gapwatch.recorder.errors import ObservationError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.storable import escape_value, try_dumps
from gapwatch.recorder.tables import quarantine

log = logging.getLogger("gapwatch.recorder.quarantine")

#: Errors that say "this data", not "this store": the batch is split to find the row; and
#: psycopg's DataError, IntegrityError and ProgramLimitExceeded once psycopg is loaded (none of
#: its exceptions exists before; not imported here, for the SQLite dashboard's cold start).
POISON: tuple[type[BaseException], ...] = (
    ObservationError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sa_exc.DataError,
    sa_exc.IntegrityError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)
#: Longest error text kept (a database message can quote the whole value).
MAX_ERROR = 2000


def is_poison(error: BaseException) -> bool:
    """Whether `error` is about the data written (split and quarantine) rather than the store."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        return is_poison(error.orig) or isinstance(error, sa_exc.DataError | sa_exc.IntegrityError)
    if isinstance(error, sa_exc.SQLAlchemyError):
        return False
    driver = sys.modules.get("psycopg")
    if driver is None:
        return isinstance(error, POISON)
    if isinstance(error, driver.errors.UniqueViolation):
        return False  # the writer handles duplicates itself; one here is a bug, not data
    pg = (driver.errors.DataError, driver.errors.IntegrityError)
    return isinstance(error, (*POISON, *pg, driver.errors.ProgramLimitExceeded, driver.DataError))


def describe(error: BaseException) -> str:
    """One line naming the error, without NULs, at most MAX_ERROR characters."""
    inner = getattr(error, "orig", None) or error
    text = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {text}".replace("\x00", "\\0")[:MAX_ERROR]


def as_ndjson(obs: Observation) -> str:
    """The observation as one storable NDJSON line (escaped), whatever its payload holds."""
    record = escape_value(obs.to_dict())
    text = try_dumps(record, sort=True)
    if text is not None:
        return text
    try:
        return json.dumps(record, sort_keys=True, ensure_ascii=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return repr(obs).encode("ascii", "backslashreplace").decode("ascii")[:1_000_000]


def store(engine: Engine, obs: Observation, error: BaseException) -> None:
    """Keep `obs` in the quarantine table with `error`; log it (kind, namespace, name: no data)."""
    reason = describe(error)
    with engine.begin() as conn:
        conn.execute(
            quarantine.insert().values(
                cluster=as_text(obs.cluster, 1000),
                quarantined_at=datetime.now(UTC),
                error=reason,
                observation=as_ndjson(obs),
            )
        )
    log.error(
        "observation quarantined: %s %s/%s from %s: %s",
        as_text(obs.kind),
        as_text(obs.namespace or ""),
        as_text(obs.name or ""),
        as_text(obs.source),
        reason,
    )


def as_text(value: str, limit: int = 200) -> str:
    """A string safe for a text column and a log line, at most `limit` characters."""
    text = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    return text if len(text) <= limit else text[: limit - 3] + "..."
