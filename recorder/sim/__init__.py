"""A deterministic discrete-event simulation of a cluster behind a cloud LB (docs/simulator.md).

from gapwatch.recorder.sim import load_scenario, run
result = run(load_scenario("seed-3node"), seed=1)
result.observations   # what the recorder's sources would have recorded
result.truth          # every true gap window, failed request and rollout
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gapwatch.recorder.sim.config import from_dict, load_scenario
    from gapwatch.recorder.sim.presets import PRESETS
    from gapwatch.recorder.sim.result import (
        Request,
        Rollout,
        SimResult,
        Simulation,
        Truth,
        Window,
        run,
    )
    from gapwatch.recorder.sim.scenario import Scenario
    from gapwatch.recorder.sim.sinks import summary, to_ndjson, to_store

#: Where each public name lives: imported on first use (PEP 562), so importing
#: `gapwatch.recorder.sim.cli` or `.presets` does not load the whole simulator.
_HOMES = {
    "from_dict": "config",
    "load_scenario": "config",
    "PRESETS": "presets",
    "Request": "result",
    "Rollout": "result",
    "SimResult": "result",
    "Simulation": "result",
    "Truth": "result",
    "Window": "result",
    "run": "result",
    "Scenario": "scenario",
    "summary": "sinks",
    "to_ndjson": "sinks",
    "to_store": "sinks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


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
