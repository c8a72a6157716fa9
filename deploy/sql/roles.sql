-- gapwatch's PostgreSQL roles: run as a superuser in the store's database before the first
-- `gapwatch db upgrade`, and again after each upgrade (what is already so stays as it is). Not
-- as a role with CREATEROLE alone: it may not set temp_file_limit (ON_ERROR_STOP stops there),
-- nor grant on schema public (a warning). Set the passwords afterwards with \password.
--   psql -v ON_ERROR_STOP=1 -d gapwatch -f deploy/sql/roles.sql
--
-- gapwatch_migrator  LOGIN: owns the schema; `gapwatch db upgrade` (the init container) runs as it.
-- gapwatch_recorder  LOGIN, member of gapwatch_writer: SELECT/INSERT on what it records (and
--                    DELETE on facts, which it derives again after an upgrade: migration 0011).
-- gapwatch_console   LOGIN, member of gapwatch_reader: the SQL console and `gapwatch sql`
--                    (dashboard/sqlguard.py refuses any login with more rights than that).
-- gapwatch_dashboard LOGIN, member of gapwatch_reader and gapwatch_replayer: the dashboard's pages
--                    (they bring replay's projections up to the facts, which writes them).
-- gapwatch_writer / gapwatch_reader  NOLOGIN: migration 0005 grants them their tables.
-- gapwatch_replayer  NOLOGIN: migration 0010 grants it writing replay's projection tables
--                    (replay_windows, _rollouts, _lags, _segments, _state) and nothing else.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_reader') THEN
        CREATE ROLE gapwatch_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_writer') THEN
        CREATE ROLE gapwatch_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_replayer') THEN
        CREATE ROLE gapwatch_replayer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_migrator') THEN
        CREATE ROLE gapwatch_migrator LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_recorder') THEN
        CREATE ROLE gapwatch_recorder LOGIN IN ROLE gapwatch_writer;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_console') THEN
        CREATE ROLE gapwatch_console LOGIN IN ROLE gapwatch_reader;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gapwatch_dashboard') THEN
        CREATE ROLE gapwatch_dashboard LOGIN IN ROLE gapwatch_reader, gapwatch_replayer;
    END IF;
END $$;

-- The migrator creates the tables (so owns them) and grants the group roles their rights.
GRANT CREATE, USAGE ON SCHEMA public TO gapwatch_migrator;
-- The migrator grants on its own tables; to grant to these roles it need not be a member.
-- A console query may write temporary files up to this much (superuser-only to set).
ALTER ROLE gapwatch_console SET temp_file_limit = '256MB';
-- A console query whose server does not stop at its deadline (calls in one expression run on past
-- statement_timeout) is let go by the console, and its backend runs on until that expression
-- ends: at most this many of the console's backends at once (the dashboard runs one query at a
-- time; dashboard/sqlwatchdog.py).
ALTER ROLE gapwatch_console CONNECTION LIMIT 4;
-- A console query could lift its own work_mem (a sort held in memory past temp_file_limit) with
-- set_config; SET itself cannot run inside the console's cursor. Function rights are per
-- database: this one is revoked in the database this script runs in (-d gapwatch), and
-- dashboard/sqlguard.py refuses a console login that may still call it.
REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean)
    TO gapwatch_migrator, gapwatch_writer, gapwatch_replayer;
-- A console query could write the server's WAL with pg_logical_emit_message, which runs in a
-- read-only transaction and writes whether it commits or not (192 MB in 0.5 s; no
-- temp_file_limit bounds it): revoked from PUBLIC here too, every overload (15 has two, 17 one),
-- and dashboard/sqlguard.py refuses a console login that may still call it. No gapwatch login
-- calls it. Nor the large object creators, which on PostgreSQL 15 write pg_largeobject and the
-- WAL from a read-only transaction too (137 MB of WAL and 187 MB of table in 10 s, rolled back
-- but written): revoked with it; gapwatch keeps no large object.
DO $$
DECLARE f text;
BEGIN
    FOR f IN SELECT p.oid::regprocedure::text FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ('pg_logical_emit_message', 'lo_create', 'lo_creat',
                                 'lo_from_bytea') LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
