"""The recorder's clock as the lab sets it: simulated time running `speed` times faster than the
wall clock, and optionally a jump of the host's clock at a given moment.

`gapwatch record` reads GAPWATCH_LAB_CLOCK (unset: the real UTC clock). Its value is
`EPOCH,WALL,SPEED[,JUMP_AT,JUMP_S]`: at wall time WALL (Unix seconds) the clock reads EPOCH
(RFC 3339), and it advances SPEED seconds per wall second; from wall time JUMP_AT on it reads
JUMP_S seconds more (a host clock stepped by NTP or by hand; negative jumps back). The lab's
recorder then stamps what it sees in the simulation's own time, so its windows compare with the
simulator's truth directly and the replay engine's assumptions (health-check intervals, lags)
keep their real-world scale. The recorder does not stamp with this clock directly: it anchors its
steady clock to it (`recorder_clock`), as it anchors to the host's clock in production, so a jump
shows as a divergence it warns about, not as a jump in what it stores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.steadyclock import SteadyClock
from gapwatch.recorder.timefmt import parse_time

CLOCK_ENV = "GAPWATCH_LAB_CLOCK"


def real_clock() -> datetime:
    return datetime.now(UTC)


def clock_spec(
    epoch: datetime, wall: float, speed: float, jump: tuple[float, float] | None = None
) -> str:
    """The GAPWATCH_LAB_CLOCK value for these parameters."""
    parts = [epoch.astimezone(UTC).isoformat().replace("+00:00", "Z"), repr(wall), repr(speed)]
    if jump is not None:
        parts += [repr(jump[0]), repr(jump[1])]
    return ",".join(parts)


def parse_clock(spec: str) -> Callable[[], datetime]:
    """The clock a GAPWATCH_LAB_CLOCK value describes; ConfigError when it is malformed."""
    return _parse(spec)[0]


def _parse(spec: str) -> tuple[Callable[[], datetime], float]:
    """(the host's clock as the spec describes it, its speed)."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) not in (3, 5):
        raise ConfigError(f"{CLOCK_ENV}: expected EPOCH,WALL,SPEED[,JUMP_AT,JUMP_S], got {spec!r}")
    try:
        epoch = parse_time(parts[0])
        wall, speed = float(parts[1]), float(parts[2])
        jump_at, jump_s = (float(parts[3]), float(parts[4])) if len(parts) == 5 else (0.0, 0.0)
    except ValueError as exc:
        raise ConfigError(f"{CLOCK_ENV}: {exc}") from exc
    if speed <= 0:
        raise ConfigError(f"{CLOCK_ENV}: SPEED must be above 0")

    def clock() -> datetime:
        now = time.time()
        shift = jump_s if jump_s and now >= jump_at else 0.0
        return epoch + timedelta(seconds=(now - wall) * speed + shift)

    return clock, speed


def clock_from_env(env: Mapping[str, str]) -> Callable[[], datetime]:
    """The lab's clock when GAPWATCH_LAB_CLOCK is set, else the real UTC clock."""
    spec = env.get(CLOCK_ENV)
    return parse_clock(spec) if spec else real_clock


def recorder_clock(env: Mapping[str, str]) -> SteadyClock:
    """What `gapwatch record` stamps with: the steady clock (recorder/steadyclock.py) anchored to
    the host's wall clock, which is the lab's (jumps included) when GAPWATCH_LAB_CLOCK is set."""
    spec = env.get(CLOCK_ENV)
    if not spec:
        return SteadyClock(real_clock)
    wall, speed = _parse(spec)
    return SteadyClock(wall, rate=speed)
