"""docs/simulator.md documents every scenario parameter, preset and event action."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from recorder.sim import PRESETS
from recorder.sim.core import Lag
from recorder.sim.scenario import ACTIONS, Scenario

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
