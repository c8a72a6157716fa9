"""A node's lane versions are read under the settings the projections use (replay.checkpoint
.lane_versions), because the proxy lane without probes (replay.programmed_lane) reads the
Service's kube-proxy lag bound and ProxyTerminatingEndpoints under them: under the defaults
the bound is the assumed 60 s until 5 measurements, while under `min_measurements=1` it is the
measured lag, which moves as the other nodes' probes measure more. Main read the versions
under the defaults: the probe-less node's version stayed, its lane kept the rows of the old
bound, and a refresh differed from a rebuild under the same settings. Simulated seed-3node,
NODE3's probes left out, refreshed from a checkpoint in batches, on both backends."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from tests.replay.test_projections import _context, _tables

_PROBES = ("NodePortProbe", "ProxyHealth")
#: the measured bound, not the assumed one (replay.proxy.proxy_lag_hi)
_MEASURED = dataclasses.replace(DEFAULTS, min_measurements=1, proxy_lag_max_s=1.0)


def _unprobed_node3(seed: int) -> list[Observation]:
    return [
        o
        for o in run(load_scenario("seed-3node"), seed=seed).observations
        if not (o.kind in _PROBES and o.node == "NODE3")
    ]


def test_a_refresh_under_other_settings_equals_their_rebuild(engine: Engine) -> None:
    observations = _unprobed_node3(3)
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(observations[:55])
    cp = Checkpoint()
    projections.rebuild(engine, settings=_MEASURED, checkpoint=cp)
    # one at a time through the first rollout: NODE2's health-check looks 60, 73 and 80 move
    # the measured bound alone (NODE3's own inputs stay)
    for batch in [*([o] for o in observations[55:90]), observations[90:]]:
        writer.write(batch)
        projections.refresh(engine, checkpoint=cp)
    incremental, context = _tables(engine), _context(engine)
    proxy3 = [r for r in incremental["replay_segments"] if "NODE3" in r and "proxy" in r]
    assert proxy3, incremental["replay_segments"]
    projections.rebuild(engine)  # under the settings recorded: _MEASURED
    assert _tables(engine) == incremental
    assert _context(engine) == context
