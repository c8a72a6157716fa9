"""A store built as a postmortem builds one: a simulated cluster written in the formats a
cluster that never ran gapwatch keeps (an audit log, CloudTrail, an ALB access log,
Prometheus' kube-proxy metrics), read back by the real importers, then refreshed."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from gapwatch.recorder.importers import load
from gapwatch.recorder.importers.driver import import_format
from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim.formats import write_format
from gapwatch.recorder.sim.result import Simulation
from gapwatch.replay import projections
from gapwatch.replay.facts import write_facts


def import_only(
    engine: Engine, tmp_path: Path, preset: str, seed: int, formats: Sequence[str]
) -> None:
    """Write the preset's run (`seed`) in each of `formats` under `tmp_path`, import each
    into `engine` (cluster `sim`), refresh the projections."""
    for fmt in formats:
        out = io.StringIO()
        write_format(Simulation(load_scenario(preset), seed), fmt, out)
        path = tmp_path / f"{fmt}.log"
        path.write_text(out.getvalue())
        done = import_format(engine, load(fmt), [str(path)], cluster="sim", derive=write_facts)
        assert done.report.error_count == 0
    projections.refresh(engine)
