"""A window names each other possible class once (`Window.also`; docs/semantics.md "Undecided
classes"): the LB's unseen rise against a death named `pod-gone-before-deregistered` a second
time where an earlier rule had already named it (random 627 node-002, 886 node-001 and
18,000,609 node-002 read `registered-before-forwarding (or pod-gone-before-deregistered or
pod-gone-before-deregistered: undecided)`)."""

from __future__ import annotations

import pytest

from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from tests.replay.accuracy import replay_windows


@pytest.mark.parametrize("seed", [627, 886])
def test_every_window_names_each_other_class_once(seed: int) -> None:
    result = run(from_dict(random_scenario(seed)), seed=seed)
    windows = replay_windows(result.observations)
    assert any(w.also for w in windows)
    assert all(len(set(w.also)) == len(w.also) for w in windows)
