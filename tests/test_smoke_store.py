"""The store migrates and accepts a write on both backends (real SQLite file, real Postgres)."""

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts


def test_write_twice_stores_once(engine: Engine) -> None:
    obs = Observation(
        observed_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        cluster="c1",
        source="kube-proxy-probe",
        kind="ProxyHealth",
        op="OBSERVED",
        node="n1",
        namespace="istio-system",
        name="istio-ingressgateway",
        payload={"status": 503, "body": {"localEndpoints": 0}},
    )
    writer = EventWriter(engine, derive=write_facts)
    assert writer.write([obs]).inserted == 1
    assert writer.write([obs, obs]).inserted == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1
