"""A deterministic discrete-event simulation of a cluster behind a cloud LB (docs/simulator.md).

from gapwatch.recorder.sim import load_scenario, run
result = run(load_scenario("seed-3node"), seed=1)
result.observations   # what the recorder's sources would have recorded
result.truth          # every true gap window, failed request and rollout
"""

from gapwatch.recorder.sim.config import from_dict, load_scenario
from gapwatch.recorder.sim.presets import PRESETS
from gapwatch.recorder.sim.result import Request, Rollout, SimResult, Simulation, Truth, Window, run
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.sim.sinks import summary, to_ndjson, to_store

__all__ = [
    "PRESETS",
    "Request",
    "Rollout",
    "Scenario",
    "SimResult",
    "Simulation",
    "Truth",
    "Window",
    "from_dict",
    "load_scenario",
    "run",
    "summary",
    "to_ndjson",
    "to_store",
]
