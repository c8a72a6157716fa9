"""The recorder's steady clock (recorder/steadyclock.py): a stepped wall clock moves no stamp,
the clock follows it only by slewing, warns with the size, and says how far apart they are."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from gapwatch.recorder.lab.clock import CLOCK_ENV, clock_spec, recorder_clock
from gapwatch.recorder.steadyclock import MAX_SLEW_PPM, SteadyClock

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


class Host:
    """A scripted host: a wall clock that can step, a monotonic clock that cannot."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.step = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.mono - 100.0 + self.step)

    def monotonic(self) -> float:
        return self.mono


def test_a_wall_clock_step_does_not_move_the_stamps_and_is_warned_about() -> None:
    host = Host()
    clock = SteadyClock(host.wall, monotonic=host.monotonic)
    host.mono += 10
    assert clock() == T0 + timedelta(seconds=10)
    host.step = 30.0  # NTP steps the host's clock forward 30 s
    host.mono += 1
    with structlog.testing.capture_logs() as logs:
        stamped = clock()
        clock()
    # one second later by the monotonic clock, plus at most the slew of that second
    assert T0 + timedelta(seconds=11) < stamped <= T0 + timedelta(seconds=11 + MAX_SLEW_PPM / 1e6)
    assert 29.9 < clock.divergence_s <= 30.0
    warned = [e for e in logs if e["log_level"] == "warning"]
    assert len(warned) == 1 and 29.9 < warned[0]["divergence_s"] <= 30.0


def test_it_slews_toward_the_wall_clock_never_backwards() -> None:
    host = Host()
    clock = SteadyClock(host.wall, monotonic=host.monotonic, max_slew_ppm=100_000)
    host.step = -2.0  # the host's clock is stepped back 2 s
    readings = []
    for _ in range(40):
        host.mono += 1
        readings.append(clock())
    assert all(b > a for a, b in itertools.pairwise(readings))
    # 10 % slew: 0.1 s per second; after 40 s the 2 s are absorbed
    assert clock.divergence_s == pytest.approx(0.0, abs=1e-6)
    assert readings[-1] == host.wall()


def test_the_rate_scales_the_monotonic_clock_as_the_lab_needs() -> None:
    host = Host()
    clock = SteadyClock(lambda: T0 + timedelta(seconds=(host.mono - 100) * 10), rate=10.0,
                        monotonic=host.monotonic)  # fmt: skip
    host.mono += 3
    assert clock() == T0 + timedelta(seconds=30)
    assert clock.divergence_s == pytest.approx(0.0)


def test_the_recorders_clock_in_the_lab_reads_simulated_time_and_ignores_the_jump() -> None:
    import time

    now = time.time()
    env = dict(os.environ)
    env[CLOCK_ENV] = clock_spec(T0, now, 10.0, (now - 5.0, 30.0))  # jumped before we started
    clock = recorder_clock(env)
    first = clock()
    assert 0 <= (first - T0 - timedelta(seconds=30)).total_seconds() < 10 * 5
    env[CLOCK_ENV] = clock_spec(T0, now, 10.0, (now + 0.3, 30.0))  # jumps while we run
    clock = recorder_clock(env)
    started = time.monotonic()
    before = clock()
    time.sleep(0.5)
    after = clock()
    ran = time.monotonic() - started
    # what passed by the monotonic clock (x10), not 30 s more
    assert (after - before).total_seconds() <= ran * 10 + 0.01
    assert clock.divergence_s > 29
