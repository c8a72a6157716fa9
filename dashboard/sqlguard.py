"""The guard every ad-hoc SQL query on PostgreSQL goes through (console and `gapwatch sql`).

A read-only transaction alone does not stop a superuser: `COPY ... TO PROGRAM`, `pg_read_file`,
`lo_import`, `pg_reload_conf` and `pg_cancel_backend` all run in one. Nor does `SET ROLE` to a
harmless role: the query can call `set_config('role', 'none', true)` to become the login again
and then run any SQL through `query_to_xml(...)`. So the guard checks the *login* first:

1. `check_login`: refuse (UnsafeLogin) unless the login may `SET ROLE gapwatch_reader` (migration
   0005) and is itself harmless: not a superuser, no CREATEROLE, not a member of
   pg_execute_server_program / pg_read_server_files / pg_write_server_files / pg_signal_backend,
   no write privilege on `events` (an owner or the recorder's login could cancel the recorder's
   queries) or any other table of the store's schema (the dashboard's login, which may refresh
   replay's projections, is not the console's: deploy/sql/roles.sql), and a finite
   `temp_file_limit` (superuser-only to set: give the login one with `ALTER ROLE ... SET
   temp_file_limit`, docs/sql.md), and no EXECUTE on `set_config` (a query that calls it in
   its first rows lifts `work_mem` for the sorts and hashes that start after: a 5,000,000-row sort
   held in memory past a 64 MB temp_file_limit; deploy/sql/roles.sql revokes it from PUBLIC),
   nor on `pg_logical_emit_message` (it writes the server's WAL from a read-only transaction,
   committed or not: 192 MB in 0.5 s, bounded by no temp_file_limit; revoked there too) or the
   large object creators `lo_create`, `lo_creat`, `lo_from_bytea` (on PostgreSQL 15 they write
   pg_largeobject and its WAL from a read-only transaction: revoked there too).
   gapwatch_reader itself must be harmless too.
2. `begin_guarded`: in the query's transaction, `READ ONLY`, `statement_timeout`, `lock_timeout`,
   `work_mem`, `hash_mem_multiplier` (1), `max_parallel_workers_per_gather` (0: each worker
   would have its own work_mem and temp_file_limit), `idle_in_transaction_session_timeout`, then
   `SET LOCAL ROLE gapwatch_reader`;
   `arm` sets them again before every FETCH (the query may have changed them in its first rows),
   the timeout what is left of the query's own, so the whole query ends by its deadline.
3. The query itself runs as a server-side cursor (`DECLARE`), which takes one SELECT/VALUES/TABLE
   statement only (no COPY, DO, LOCK, EXPLAIN ANALYZE of a write, no second statement), and the
   connection is closed afterwards (session advisory locks and settings die with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from gapwatch.dashboard.errors import UnsafeLogin

READER = "gapwatch_reader"
#: Predefined roles that reach the server's files, programs or other sessions.
DANGEROUS_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_signal_backend",
)
#: The function a query could change its own limits with (SET itself cannot run in a cursor).
SET_CONFIG = "pg_catalog.set_config(text, text, boolean)"
REVOKE_SET_CONFIG = f"REVOKE EXECUTE ON FUNCTION {SET_CONFIG} FROM PUBLIC"
#: The functions that write the server's disk from a read-only transaction, committed or not,
#: every overload (PostgreSQL 17 replaced the two pg_logical_emit_message of 15 with one taking
#: a fourth argument): pg_logical_emit_message the WAL (192 MB in 0.5 s, session 29); the large
#: object creators pg_largeobject and the WAL (137 MB of WAL and 187 MB of table in 10 s on
#: 15.18, session 31; without them no large object exists that the login may write).
WAL_WRITER = "pg_logical_emit_message"
DISK_WRITERS = (WAL_WRITER, "lo_create", "lo_creat", "lo_from_bytea")
_WAL_WRITERS = f"""
SELECT p.oid::regprocedure::text FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace
  AND p.proname IN ({", ".join(f"'{name}'" for name in DISK_WRITERS)})
"""
REVOKE_WAL_WRITER = f"""DO $$
DECLARE f text;
BEGIN
    FOR f IN {_WAL_WRITERS.strip()} LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$"""
#: What an operator runs once in the store's database (deploy/sql/roles.sql runs both).
REVOKES = (REVOKE_SET_CONFIG, REVOKE_WAL_WRITER)
HOW_TO = (
    "point the console at a login made for it (GAPWATCH_CONSOLE_DB / --db): deploy/sql/roles.sql's "
    f"gapwatch_console, or CREATE ROLE gapwatch_console LOGIN PASSWORD '...' IN ROLE {READER}; "
    "ALTER ROLE gapwatch_console SET temp_file_limit = '256MB'; in the store's database "
    f"{REVOKE_SET_CONFIG} and from {', '.join(DISK_WRITERS)} (deploy/sql/roles.sql, "
    "docs/dashboard.md)"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one query may use. Bytes count the text of the cells as shown."""

    timeout_s: float = 5.0
    row_limit: int = 1000
    byte_limit: int = 32 * 1024 * 1024
    work_mem: str = "16MB"
    #: A hash (join, aggregate, memoize) may hold this many times work_mem: PostgreSQL 15's
    #: default is 2.0, so the console's hashes held 32 MB each; 1 keeps them to work_mem.
    hash_mem_multiplier: str = "1"
    #: Parallel workers per Gather: each worker has its own work_mem per sort or hash and its own
    #: temp_file_limit (a per-process limit), so the default 2 tripled both; 0 keeps the query
    #: to its own backend.
    parallel_workers: str = "0"
    idle_timeout_ms: int = 60_000
    #: Seconds past its deadline the console waits for the server before it drops the query's
    #: connection: PostgreSQL looks for a cancel between a plan's steps and inside some
    #: functions, not between the calls of one expression, so `array_fill` three times in one
    #: expression answered a 2 s query after 14.8 s (session 38; the server goes on regardless).
    grace_s: float = 2.0


#: A table of the store's schema the login may write, `events` first (None: none).
_WRITTEN = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind IN ('r', 'p')
  AND has_table_privilege(session_user, c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')
ORDER BY c.relname <> 'events', c.relname
LIMIT 1
"""


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


#: The grantees of EXECUTE on set_config through which a role has it: PUBLIC (grantee 0) first
_SET_CONFIG_HOLDERS = """
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE p.oid = %s::regprocedure AND a.privilege_type = 'EXECUTE'
  AND (a.grantee = 0 OR pg_has_role(%s, a.grantee, 'MEMBER'))
ORDER BY a.grantee <> 0, 1
"""


def _set_config_refusal(conn: psycopg.Connection[Any], who: str) -> str:
    """Why `who`, which may call set_config, is refused, and the advice that mends it: the REVOKE
    from PUBLIC where PUBLIC holds it, else the roles that give it (roles.sql grants it to the
    migration's, the recorder's and the dashboard pages' roles, whose logins are not the
    console's: the REVOKE from PUBLIC, already done, would change nothing)."""
    holders = [str(r[0]) for r in conn.execute(_SET_CONFIG_HOLDERS, (SET_CONFIG, who))]
    why = f"{who} may call set_config (a query could lift its own work_mem)"
    if not holders or holders[0] == "PUBLIC":
        return (
            f"{why}: as a superuser, in the store's database, {REVOKE_SET_CONFIG} "
            "(deploy/sql/roles.sql does it; run it again there after an upgrade from a version "
            "before it did)"
        )
    return f"{why}, granted to {', '.join(holders)}: not a console login: {HOW_TO}"


def check_login(conn: psycopg.Connection[Any]) -> None:
    """Raise UnsafeLogin unless this connection's login is fit to run ad-hoc SQL (see above)."""
    login = str(_one(conn, "SELECT session_user"))
    if not _one(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", READER):
        raise UnsafeLogin(f"role {READER} does not exist: run `gapwatch db upgrade` (0005)")
    for who in (login, READER):
        flags = conn.execute(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s", (who,)
        ).fetchone()
        if flags is not None and flags[0]:
            raise UnsafeLogin(f"{who} is a superuser; the console never runs as one: {HOW_TO}")
        if flags is not None and flags[1]:
            raise UnsafeLogin(f"{who} may create roles; the console refuses it: {HOW_TO}")
        for role in DANGEROUS_ROLES:
            if _one(conn, "SELECT pg_has_role(%s, %s, 'MEMBER')", who, role):
                raise UnsafeLogin(f"{who} is a member of {role}; refused: {HOW_TO}")
        if _one(conn, "SELECT has_function_privilege(%s, %s, 'EXECUTE')", who, SET_CONFIG):
            raise UnsafeLogin(_set_config_refusal(conn, who))
        wal = _one(conn, _WAL_WRITERS + "AND has_function_privilege(%s, p.oid, 'EXECUTE')", who)
        if wal is not None:
            raise UnsafeLogin(
                f"{who} may call {wal} (a query could write the server's disk, read-only or "
                f"not): as a superuser, in the store's database, REVOKE EXECUTE ON FUNCTION "
                f"{wal} FROM PUBLIC (deploy/sql/roles.sql revokes every overload of "
                f"{', '.join(DISK_WRITERS)})"
            )
    # Before the membership: granting gapwatch_reader to a login that writes (the migration's,
    # the recorder's, the dashboard's pages') would only lead to this refusal, so that is not the
    # advice it gets.
    written = _one(conn, _WRITTEN)
    if written == "events":
        raise UnsafeLogin(f"{login} may write the event store; refused: {HOW_TO}")
    if written is not None:
        raise UnsafeLogin(f"{login} may write {written}; a console login writes nothing: {HOW_TO}")
    if not _one(conn, "SELECT pg_has_role(session_user, %s, 'MEMBER')", READER):
        raise UnsafeLogin(f"{login} cannot SET ROLE {READER}: GRANT {READER} TO {login}")
    if str(_one(conn, "SELECT current_setting('temp_file_limit')")) == "-1":
        raise UnsafeLogin(
            f"{login} has no temp_file_limit (a query could fill the server's disk): "
            f"ALTER ROLE {login} SET temp_file_limit = '256MB'"
        )
    conn.rollback()


def begin_guarded(conn: psycopg.Connection[Any], limits: Limits) -> None:
    """Open the query's transaction: read-only, limited, as gapwatch_reader."""
    conn.execute("SET TRANSACTION READ ONLY")
    arm(conn, limits, limits.timeout_s)


def arm(conn: psycopg.Connection[Any], limits: Limits, remaining_s: float) -> None:
    """Set the limits for the transaction's next statement (the DECLARE, then each FETCH).

    A setting holds from a statement's start to its end, and the query may change it meanwhile
    (`set_config('statement_timeout', '0', true)` in its first rows): so each FETCH gets them
    anew, its timeout what is left of the query's own (`remaining_s`), not a fresh one.
    """
    timeout_ms = max(1, int(remaining_s * 1000))
    settings = (
        ("statement_timeout", str(timeout_ms)),
        ("lock_timeout", str(min(timeout_ms, 2000))),
        ("work_mem", limits.work_mem),
        ("hash_mem_multiplier", limits.hash_mem_multiplier),
        ("max_parallel_workers_per_gather", limits.parallel_workers),
        ("idle_in_transaction_session_timeout", str(limits.idle_timeout_ms)),
    )
    statements = [
        sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(name), sql.Literal(value))
        for name, value in settings
    ]
    statements.append(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(READER)))
    conn.execute(sql.SQL("; ").join(statements))
