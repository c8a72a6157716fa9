"""0014_view_times: the views' times and durations are what the stored microseconds say, on both
backends, and the re-created views keep their grants.

Before it, v_rollouts.duration_s was `numeric` on PostgreSQL (a Decimal here, every digit of
`12.7865850000000000` in psql) and v_lane_samples' and v_lags' times stopped at the millisecond on
SQLite (strftime's %f)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.store import downgrade, make_engine, upgrade

#: 2026-01-01 00:01:11.123457 UTC, and a previous look 0.000001 s less a second before it.
AT_US = 1_767_225_671_123_457
PREV_US = AT_US - 1_000_001
START_US, END_US = 1_767_225_660_035_500, 1_767_225_672_822_085  # 12.786585 s apart
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _read(value: Any) -> datetime:
    """A view's time as a datetime: text on SQLite (UTC, no zone), timestamptz on PostgreSQL."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def _store(engine: Engine) -> None:
    fact = {"cluster": "c", "op": "MODIFIED", "namespace": "ns", "name": "gw", "node": "n1"}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO facts (event_id, seq, cluster, at_us, prev_us, fact, op, namespace,"
                " name, node, state, num1) VALUES (:event_id, :seq, :cluster, :at_us, :prev_us,"
                " :fact, :op, :namespace, :name, :node, :state, :num1)"
            ),
            [
                {**fact, "event_id": 1, "seq": 1, "at_us": AT_US, "prev_us": None,
                 "fact": "slice", "state": "MODIFIED", "num1": 1},
                {**fact, "event_id": 2, "seq": 0, "at_us": AT_US + 1, "prev_us": PREV_US,
                 "fact": "target", "state": "healthy", "num1": 31000},
            ],
        )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO replay_rollouts (id, cluster, namespace, service, kind, workload,"
                " start_at, end_at, start_us, end_us, windows, gap_seconds, worst_window_s, nodes)"
                " VALUES ('ro-1', 'c', 'ns', 'gw', 'rollout', 'Deployment/gw', :start_at,"
                " :end_at, :start_us, :end_us, 0, 0.0, 0.0, '')"
            ),
            {"start_at": _time(START_US), "end_at": _time(END_US),
             "start_us": START_US, "end_us": END_US},
        )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO replay_lags (cluster, namespace, service, node, lag, at_us, seconds)"
                " VALUES ('c', 'ns', 'gw', 'n1', 'kube-proxy-programming', :at_us, 1.5)"
            ),
            {"at_us": AT_US},
        )


def _seen(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        samples = conn.execute(
            text("SELECT observed_at, previous_observed_at FROM v_lane_samples ORDER BY at_us")
        ).all()
        duration = conn.execute(text("SELECT duration_s FROM v_rollouts")).scalar_one()
        lag_at = conn.execute(text("SELECT at FROM v_lags")).scalar_one()
    return {"samples": samples, "duration": duration, "lag_at": lag_at}


def test_durations_are_floats_and_times_are_to_the_microsecond(engine: Engine) -> None:
    _store(engine)
    seen = _seen(engine)
    assert type(seen["duration"]) is float  # a Decimal on PostgreSQL before 0014
    assert seen["duration"] == pytest.approx(12.786585, abs=1e-9)
    (slice_at, slice_prev), (target_at, target_prev) = seen["samples"]
    assert _read(slice_at) == _time(AT_US)  # .123 on SQLite before 0014
    assert slice_prev is None  # a first look has no previous one
    assert _read(target_at) == _time(AT_US + 1)
    assert _read(target_prev) == _time(PREV_US)
    assert _read(seen["lag_at"]) == _time(AT_US)
    if engine.dialect.name == "sqlite":  # the shape of the stored *_at columns
        assert slice_at == "2026-01-01 00:01:11.123457"


def test_the_downgrade_restores_0002s_views_and_upgrade_mends_them(engine: Engine) -> None:
    _store(engine)
    downgrade(engine, "0013_writer_sequences")
    old = _seen(engine)
    if engine.dialect.name == "postgresql":
        assert type(old["duration"]) is not float
    else:
        assert old["samples"][0][0] == "2026-01-01 00:01:11.123"
    upgrade(engine)
    assert type(_seen(engine)["duration"]) is float


_GRANTS = """
SELECT c.relname, a.privilege_type, pg_get_userbyid(a.grantee)
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.relname IN ('v_lane_samples', 'v_rollouts', 'v_lags') AND a.grantee <> c.relowner
ORDER BY 1, 2, 3
"""


@pytest.mark.postgres
def test_the_views_keep_their_grants_both_ways(pg_url: str) -> None:
    """gapwatch_reader (the SQL console's role) and gapwatch_writer (0005) keep SELECT on the
    re-created view, and so does a grant a DBA made; the reader reads the float."""
    engine = make_engine(pg_url)
    _store(engine)
    analyst = f"analyst_{uuid4().hex[:12]}"  # roles are the server's: one of this test's own
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {analyst} NOLOGIN"))
    try:
        downgrade(engine, "0013_writer_sequences")
        with engine.begin() as conn:
            conn.execute(text(f"GRANT SELECT ON v_rollouts TO {analyst}"))
            before = conn.execute(text(_GRANTS)).all()
        assert ("v_rollouts", "SELECT", "gapwatch_reader") in before
        assert ("v_rollouts", "SELECT", analyst) in before
        upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text(_GRANTS)).all() == before
            conn.execute(text("SET LOCAL ROLE gapwatch_reader"))
            duration = conn.execute(text("SELECT duration_s FROM v_rollouts")).scalar_one()
        assert type(duration) is float
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {analyst}"))
            conn.execute(text(f"DROP ROLE {analyst}"))
        engine.dispose()
