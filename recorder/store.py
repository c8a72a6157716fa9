"""Opening the event store and migrating it (Alembic), on PostgreSQL or SQLite.

URLs: `sqlite:///path.db` (the embedded default) or `postgresql://user@host:port/db` (psycopg 3 is
used whatever driver the URL names). Errors from the driver become StoreError with the URL's
password hidden.

Alembic (with Mako and Pygments, about a second to import) is imported where a migration or a
revision is read, not with this module: the dashboard and most commands open a store without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from gapwatch.recorder.dburl import ambiguous_userinfo
from gapwatch.recorder.dburl import redact as redact
from gapwatch.recorder.defaults import DEFAULT_URL as DEFAULT_URL
from gapwatch.recorder.defaults import PG_CONNECT_TIMEOUT_S
from gapwatch.recorder.errors import SchemaOutOfDate, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

#: What a store URL looks like, for errors about one that is not.
URL_FORMS = "sqlite:///FILE or postgresql://USER@HOST:PORT/DB"


def parse_url(url: str) -> URL:
    """`url` parsed, or StoreError saying what is wrong without ever showing its password.

    SQLAlchemy's own errors are not passed on: a port that is not a number raised a bare
    ValueError (a traceback), and the text of a URL it cannot parse is the URL itself."""
    if ambiguous_userinfo(url):
        raise StoreError(
            f"{redact(url)}: the user or password holds an unencoded '@' or '/': "
            "percent-encode them (%40, %2F)"
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        # redact() hides a value it cannot parse whole; one without '@' or '=' holds no secret
        secret = "@" in url or "=" in url
        shown = "the value given (not shown: it may hold a password)" if secret else repr(url)
        raise StoreError(
            f"not a database URL: {shown}: expected {URL_FORMS} (sqlite:/// has three slashes)"
        ) from None
    except ValueError:  # int() of the port
        raise StoreError(f"{redact(url)}: the port is not a number: expected {URL_FORMS}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.host:
        # sqlite://gapwatch.db read its file as a host (SQLAlchemy's four-line error), and
        # sqlite://dir/x.db opened x.db here, without dir
        path = "/".join(p for p in (parsed.host, parsed.database) if p)
        raise StoreError(
            f"{redact(url)}: a SQLite URL has three slashes before a relative path "
            f"(sqlite:///{path}) and four before an absolute one (sqlite:////{path})"
        )
    return parsed


def normalize_url(url: str) -> str:
    """Make every PostgreSQL URL use psycopg 3; leave others as they are."""
    parsed = parse_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):  # libpq takes both schemes
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() != "sqlite":
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _query_keys(url: str) -> set[str]:
    return set(parse_url(url).query)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for the store at `url`, tuned per backend."""
    url = normalize_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("postgresql"):
        # kept: a long-running recorder's pooled connection may have outlived a server restart
        options["pool_pre_ping"] = True
        # no column or value of ours is an hstore: a new engine's first connection need not
        # look its type up (3 round trips a run: tests/store/test_engine_setup.py)
        options["use_native_hstore"] = False
        if "connect_timeout" not in _query_keys(url):
            options["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    options.update(kwargs)
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        # not chained: the driver's error can repeat the URL, password included
        raise StoreError(f"cannot open {redact(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the migrations package, optionally bound to a connection."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gapwatch.migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


#: libpq's refusal of a database that does not exist on the server.
_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')
#: PostgreSQL's refusal of a write to replay's projections (a refresh), to a login that may not
_PROJECTION_DENIED = re.compile(r"permission denied for table replay_\w+$")
#: ... and the login that may: the dashboard's pages' (migration 0010, deploy/sql/roles.sql)
_REFRESH_LOGIN = (
    ": this login may not refresh replay's projections, which are behind the facts: use one in "
    "gapwatch_replayer (deploy/: gapwatch_dashboard, Secret gapwatch-db-dashboard; "
    "docs/dashboard.md)"
)


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn driver errors into StoreError naming the (redacted) store."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        missing = _MISSING_DATABASE.search(reason)
        if missing:  # `db upgrade` makes a SQLite file, but a PostgreSQL database it cannot
            name = missing.group(1)
            reason += (
                f": create it first (createdb {name}, or CREATE DATABASE {name} OWNER the login "
                "that runs `gapwatch db upgrade`), then `gapwatch db upgrade` makes its tables"
            )
        elif _PROJECTION_DENIED.search(reason):  # the console's or the recorder's login
            reason += _REFRESH_LOGIN
        # not chained: the SQLAlchemy error repeats the statement with its parameters (a whole
        # batch of payloads): noise in every log line, and data that does not belong there
        raise StoreError(f"{redact(str(engine.url))}: {reason}") from None


#: The transaction-level advisory lock `upgrade` and `downgrade` take first on PostgreSQL
#: ("gapwatch" in ASCII; advisory locks are per database): two at once, as deploy/'s two
#: replicas' init containers on a first install, run one after the other. Without it the
#: second failed (`relation "alembic_version" already exists`, or a duplicate key in pg_type)
#: and its pod restarted.
MIGRATION_LOCK = 0x6761707761746368


def _serialized(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _events_first(conn: Connection) -> None:
    """`events`' ACCESS EXCLUSIVE lock taken before a migration changes anything, as the
    transaction's first lock on it: a migration that grants on `events` (0005, 0010) updates its
    pg_class row, and an ANALYZE of `events` (autovacuum's, on a live store) then waits for the
    migration's transaction to update that row again while holding the SHARE UPDATE EXCLUSIVE
    lock 0007's `LOCK TABLE events` waits for: `deadlock detected`, and one of the two cancelled
    (seen in session 36: tests/store/test_migration_deadlock.py). Taken first, the lock waits
    for the ANALYZE, which PostgreSQL cancels (an autovacuum blocking a lock is), or which ends.
    No-op on SQLite and before `events` exists; held to the migration's commit, as 0007 held
    it, so the recorder's writes wait for the migration."""
    if conn.dialect.name != "postgresql":
        return
    if conn.execute(text("SELECT to_regclass('events') IS NOT NULL")).scalar_one():
        conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))


def _not_the_owner(conn: Connection) -> tuple[str, str] | None:
    """(owner, login) when this PostgreSQL login neither owns the store's tables (alembic_version)
    nor is a member of their owner: it may not migrate them. None on SQLite, for an empty store
    and for the owner."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(
        text(
            "SELECT pg_get_userbyid(relowner), current_user, "
            "pg_has_role(current_user, relowner, 'USAGE') "
            "FROM pg_class WHERE oid = to_regclass('alembic_version')"
        )
    ).first()
    return None if row is None or row[2] else (str(row[0]), str(row[1]))


def _upgrade_as(owner: str, login: str) -> str:
    return (
        f"run `gapwatch db upgrade` as {owner}, the owner of its tables (login {login} may not "
        "change them; deploy/: the recorder pod's migrate init container, Secret "
        "gapwatch-db-migrate)"
    )


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the store to `revision` (one migration at a time per database).
    Returns the revisions (None: empty) found once the lock was held, and after: the one read
    before waiting is stale when another upgrade ran meanwhile (the second replica said
    "schema empty -> 0009" after finding 0009 and doing nothing). A login that does not own the
    tables is told who does before a migration fails on its first table (`must be owner of
    table projector_positions`)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with translate_errors(engine), engine.begin() as conn:
        _serialized(conn)
        found = MigrationContext.configure(conn).get_current_revision()
        other = _not_the_owner(conn)
        head = head_revision()  # reads every migration's file: once
        if other is not None and revision == "head" and found != head:
            raise StoreError(
                f"{redact(str(engine.url))}: schema {found} is behind {head}: {_upgrade_as(*other)}"
            )
        if found != (head if revision == "head" else revision):
            _events_first(conn)
        command.upgrade(alembic_config(conn), revision)
        return found, MigrationContext.configure(conn).get_current_revision()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the store down to `revision` ("base" drops everything gapwatch made)."""
    from alembic import command

    with translate_errors(engine), engine.begin() as conn:
        _serialized(conn)
        _events_first(conn)
        command.downgrade(alembic_config(conn), revision)


#: The newest migration (migrations/versions/), as `require_current` compares a store with it:
#: known here without Alembic, whose script directory and migration context cost every command
#: that opens a store about 0.14 s of CPU to import (benchmarks/README.md, "Session 37: CI's
#: time"). tests/store/test_migrations.py holds it equal to Alembic's head.
HEAD_REVISION = "0014_view_times"


def current_revision(engine: Engine) -> str | None:
    """The store's Alembic revision (its `alembic_version` row, read as Alembic's migration
    context reads it, with plain SQL), or None for an empty store."""
    from sqlalchemy import inspect

    with translate_errors(engine), engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:  # Alembic's branches: gapwatch's migrations are one line
        raise StoreError(
            f"the store {redact(str(engine.url))} is at {len(found)} revisions at once "
            f"({', '.join(sorted(found))}); gapwatch's migrations have one head, {HEAD_REVISION}"
        )
    return found[0] if found else None


def head_revision() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def require_current(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the store is at the code's head revision."""
    have, want = current_revision(engine), HEAD_REVISION
    if have != want:
        state = "is empty" if have is None else f"is at revision {have}, the code wants {want}"
        # without the same --db a pasted `gapwatch db upgrade` migrated (or created) the default
        # sqlite:///gapwatch.db, and the store named here stayed behind
        how = "run `gapwatch db upgrade` with the same --db (or GAPWATCH_DB)"
        with translate_errors(engine), engine.connect() as conn:
            other = _not_the_owner(conn)
        # deploy/'s logins: the recorder's (the node agent has no migrate init container) or
        # the dashboard's may not, and `db upgrade` with them failed on its first table
        raise SchemaOutOfDate(
            f"the store {redact(str(engine.url))} {state}: "
            f"{how if other is None else _upgrade_as(*other)}"
        )


def require_existing_file(url: str) -> None:
    """Raise StoreError when `url` is a SQLite file that does not exist (connecting would create
    it): only `gapwatch db upgrade` creates stores."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.exists():
        # `gapwatch demo` builds gapwatch-demo.db; the default --db is gapwatch.db
        beside = sorted(p.name for p in path.resolve().parent.glob("*.db") if p.is_file())
        shown = f" (beside it: {', '.join(beside[:5])})" if beside else ""
        raise StoreError(
            f"no store at {path.resolve()} ({redact(url)}): check the path{shown}, or run "
            "`gapwatch db upgrade` with the same --db to create it"
        )
