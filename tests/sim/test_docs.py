"""docs/simulator.md documents every scenario parameter, preset and event action."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import yaml

from gapwatch.recorder.sim import PRESETS, from_dict, run
from gapwatch.recorder.sim.core import Lag
from gapwatch.recorder.sim.scenario import ACTIONS, Scenario

DOC = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()


def keys(cls: type[typing.Any], prefix: str = "") -> list[str]:
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and hint is not Lag:
            out += keys(hint, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            out.append(prefix + f.name)
    return out


def test_every_parameter_is_documented() -> None:
    missing = [k for k in keys(Scenario) if f"`{k}`" not in DOC]
    assert not missing
    assert len(keys(Scenario)) > 60


def test_every_preset_and_action_is_documented() -> None:
    for name in PRESETS:
        assert f"`{name}`" in DOC
    for action in ACTIONS:
        assert f"`{action}`" in DOC


def test_the_documented_scenario_file_loads_and_runs() -> None:
    block = DOC.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = from_dict(yaml.safe_load(block), "docs/simulator.md")
    assert scenario.name == "seed-with-pte"
    assert scenario.nodes.names == ("NODE1", "NODE2", "NODE3")
    truth = run(scenario, 1).truth
    assert len(truth.rollouts) == 4
    # PTE + preStop + a registration delay past kube-proxy's lag: only the crash opens a window
    assert {w.cls for w in truth.windows} == {"pod-gone-before-deregistered"}
