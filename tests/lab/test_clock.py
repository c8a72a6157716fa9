"""The lab's clock hook (GAPWATCH_LAB_CLOCK): simulated time, speed, a host clock jump, a first
instant named after the recorder started (a deferred WALL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.lab.clock import (
    CLOCK_ENV,
    WAITING_EVENT,
    FirstInstantClock,
    clock_from_env,
    clock_spec,
    deferred_clock_spec,
    parse_clock,
    real_clock,
    recorder_clock,
    write_wall,
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


def test_a_deferred_clock_reads_the_first_instant_the_lab_writes_and_its_relative_jump(
    tmp_path: Path,
) -> None:
    path = tmp_path / "first-instant"
    spec = deferred_clock_spec(EPOCH, path, 10.0, jump=(1.0, 30.0))
    now = time.time()
    write_wall(path, now - 2.0)  # the first instant was 2 s ago; the jump 1 s after it
    elapsed = (parse_clock(spec)() - EPOCH).total_seconds()
    assert 20.0 + 30.0 <= elapsed < 20.0 + 30.0 + 10.0 * 5


def test_the_recorders_deferred_clock_waits_for_the_first_instant_at_its_first_reading(
    tmp_path: Path,
) -> None:
    path = tmp_path / "first-instant"
    clock = recorder_clock({CLOCK_ENV: deferred_clock_spec(EPOCH, path, 10.0)})
    assert isinstance(clock, FirstInstantClock)  # made before the lab names it: no reading yet
    wall = time.time() + 3600.0  # an hour ahead: the clock reads before EPOCH until then
    writer = threading.Timer(1.0, write_wall, (path, wall))
    with structlog.testing.capture_logs() as logs:
        writer.start()
        first = clock()
    writer.join()
    assert [e["event"] for e in logs] == [WAITING_EVENT]
    assert (first - EPOCH).total_seconds() < -3600 * 10 + 10.0 * 60


def test_a_deferred_clock_never_named_is_a_config_error(tmp_path: Path) -> None:
    clock = FirstInstantClock(deferred_clock_spec(EPOCH, tmp_path / "never", 1.0), timeout_s=0.1)
    with pytest.raises(ConfigError, match="no first instant"):
        clock()
