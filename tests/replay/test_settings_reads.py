"""The LB settings reads kept by log position (replay.settings_reads) give what a scan of the
whole log gives (replay.measure_store), on both backends: after the refresh that keeps them,
with reads recorded after it (not kept yet), and after the next refresh keeps those too."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, select

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, settings_reads
from gapwatch.replay.facts import write_facts
from gapwatch.replay.measure import Measured
from gapwatch.replay.measure_store import measurements
from gapwatch.replay.tables import replay_state


def _both(engine: Engine, obs: Observation) -> tuple[dict[str, Measured], dict[str, Measured]]:
    svc = next(s for s in api.services(engine) if s.name == obs.name)
    settings = api.assumptions(engine)
    with engine.connect() as conn:
        kept = settings_reads.lb_settings(conn, svc, settings)
        scanned = measurements(conn, svc, settings).lb
    return kept, scanned


def _kept_ids(engine: Engine) -> list[int]:
    key = replay_state.c.key
    with engine.connect() as conn:
        query = select(replay_state.c.value).where(key > settings_reads.POSITION_KEY)
        return sorted(int(v) for v in conn.execute(query.where(key.like("lbset:%"))).scalars())


def test_kept_reads_equal_a_scan_of_the_log(engine: Engine) -> None:
    observations = list(run(load_scenario("aws-nlb"), seed=3).observations)
    reads = [o for o in observations if o.kind == "TargetGroupAttributes"]
    assert reads, "the simulator's poller reads the target group's settings"
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(observations)
    api.refresh(engine)
    assert len(_kept_ids(engine)) == len(reads)
    kept, scanned = _both(engine, reads[0])
    assert kept == scanned
    assert kept["hc_interval_s"].measured

    # the target group's interval changed later: read after the kept position, then kept
    first = reads[0]
    attrs = dict(first.payload["Attributes"])
    attrs["HealthCheckIntervalSeconds"] = "5"
    later = replace(
        first,
        observed_at=max(o.observed_at for o in observations) + timedelta(seconds=1),
        op="MODIFIED",
        payload={**first.payload, "Attributes": attrs},
    )
    writer.write([later])
    kept, scanned = _both(engine, first)
    assert kept == scanned and kept["hc_interval_s"].value == 5
    api.refresh(engine)
    assert len(_kept_ids(engine)) == len(reads) + 1
    kept, scanned = _both(engine, first)
    assert kept == scanned and kept["hc_interval_s"].values[-1] == 5
    assert settings_reads.remember(engine) == 0  # nothing new: nothing scanned
