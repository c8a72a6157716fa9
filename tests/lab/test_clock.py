"""The lab's clock hook (GAPWATCH_LAB_CLOCK): simulated time, speed, a host clock jump."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.lab.clock import (
    CLOCK_ENV,
    clock_from_env,
    clock_spec,
    parse_clock,
    real_clock,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_clock_reads_simulated_time_at_the_given_speed() -> None:
    wall = time.time() - 2.0  # the simulation began two wall seconds ago
    clock = parse_clock(clock_spec(EPOCH, wall, 10.0))
    elapsed = (clock() - EPOCH).total_seconds()
    assert 20.0 <= elapsed < 20.0 + 10.0 * 5  # 10x: 20 s simulated, plus this test's own time


def test_a_jump_shifts_the_clock_from_its_moment_on() -> None:
    now = time.time()
    before = parse_clock(clock_spec(EPOCH, now, 1.0, jump=(now + 3600, 30.0)))
    after = parse_clock(clock_spec(EPOCH, now, 1.0, jump=(now - 1, -30.0)))
    assert (before() - EPOCH).total_seconds() < 5
    assert (after() - EPOCH).total_seconds() < -25


def test_without_the_variable_the_recorder_keeps_the_real_clock() -> None:
    assert clock_from_env({}) is real_clock
    assert abs((clock_from_env({})() - datetime.now(UTC)).total_seconds()) < 5


@pytest.mark.parametrize(
    "spec", ["", "2026-01-01T00:00:00Z,1", "nonsense,1,2", "2026-01-01T00:00:00Z,1,0", "a,b,c,d,e"]
)
def test_a_malformed_value_is_a_config_error_naming_the_variable(spec: str) -> None:
    with pytest.raises(ConfigError, match=CLOCK_ENV):
        parse_clock(spec)
