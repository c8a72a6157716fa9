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

WALL may be `@PATH` (deferred): the file the lab writes WALL to once every replica it started is
waiting for its clock (on a loaded machine a recorder takes many seconds to import and build its
sources, and the lab cannot know in advance how many). The recorder's clock then anchors at its
first reading, which waits for the file (logging WAITING_EVENT once), so the first instant can be
named after the processes run, however late they were. JUMP_AT may then be `+S`: S wall seconds
after WALL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.steadyclock import SteadyClock
from gapwatch.recorder.timefmt import parse_time

CLOCK_ENV = "GAPWATCH_LAB_CLOCK"
#: What a recorder logs when its first clock reading waits for the lab's first instant.
WAITING_EVENT = "lab clock: waiting for the first instant"
#: How long (wall seconds) a recorder waits for the lab to name its first instant before it
#: gives up: a lab that died names none, and its recorders must not wait for ever.
FIRST_INSTANT_WAIT_S = 900.0

log = structlog.get_logger("gapwatch.recorder")


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


def deferred_clock_spec(
    epoch: datetime, path: Path, speed: float, jump: tuple[float, float] | None = None
) -> str:
    """The GAPWATCH_LAB_CLOCK value whose WALL the lab writes to `path` later (`write_wall`);
    `jump`: (wall seconds after WALL, size)."""
    parts = [epoch.astimezone(UTC).isoformat().replace("+00:00", "Z"), f"@{path}", repr(speed)]
    if jump is not None:
        parts += [f"+{jump[0]!r}", repr(jump[1])]
    return ",".join(parts)


def write_wall(path: Path, wall: float) -> None:
    """Name the first instant of the deferred clocks that wait for `path` (atomically: a reader
    sees no file or the whole value)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(repr(wall), "utf-8")
    partial.replace(path)


def parse_clock(spec: str) -> Callable[[], datetime]:
    """The clock a GAPWATCH_LAB_CLOCK value describes; ConfigError when it is malformed. A
    deferred WALL is waited for."""
    return _parse(spec)[0]


def _split(spec: str) -> list[str]:
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) not in (3, 5):
        raise ConfigError(f"{CLOCK_ENV}: expected EPOCH,WALL,SPEED[,JUMP_AT,JUMP_S], got {spec!r}")
    return parts


def _deferred(spec: str) -> Path | None:
    """The file a deferred WALL names, or None."""
    wall = _split(spec)[1]
    return Path(wall[1:]) if wall.startswith("@") else None


def _wait_for_wall(path: Path, timeout_s: float, poll_s: float = 0.02) -> str:
    """The WALL the lab wrote to `path`, once it has (ConfigError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise ConfigError(f"{CLOCK_ENV}: no first instant in {path} after {timeout_s:.0f} s")
        time.sleep(poll_s)
    return path.read_text("utf-8").strip()


def _parse(
    spec: str, timeout_s: float = FIRST_INSTANT_WAIT_S
) -> tuple[Callable[[], datetime], float]:
    """(the host's clock as the spec describes it, its speed); a deferred WALL is waited for."""
    parts = _split(spec)
    try:
        epoch = parse_time(parts[0])
        if parts[1].startswith("@"):
            parts[1] = _wait_for_wall(Path(parts[1][1:]), timeout_s)
        wall, speed = float(parts[1]), float(parts[2])
        jump_at, jump_s = (float(parts[3]), float(parts[4])) if len(parts) == 5 else (0.0, 0.0)
        if parts[3:4] and parts[3].startswith("+"):
            jump_at += wall
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
    if _deferred(spec) is not None:
        return FirstInstantClock(spec)
    wall, speed = _parse(spec)
    return SteadyClock(wall, rate=speed)


class FirstInstantClock(SteadyClock):
    """The steady clock of a deferred spec: anchored at its first reading, which waits until the
    lab has written the first instant (logging WAITING_EVENT once if it has not yet). Until then
    nothing is stamped, so nothing depends on when the lab names it."""

    def __init__(self, spec: str, timeout_s: float = FIRST_INSTANT_WAIT_S) -> None:
        path = _deferred(spec)
        if path is None:
            raise ConfigError(f"{CLOCK_ENV}: {spec!r} names no file for its first instant")
        self._spec, self._path, self._timeout_s = spec, path, timeout_s
        self._anchoring = threading.Lock()
        self._anchored = False
        #: wall clock minus this clock (0 until anchored), as SteadyClock's
        self.divergence_s = 0.0

    def __call__(self) -> datetime:
        if not self._anchored:
            with self._anchoring:
                if not self._anchored:
                    if not self._path.exists():
                        log.info(WAITING_EVENT, file=str(self._path))
                    wall, speed = _parse(self._spec, self._timeout_s)
                    SteadyClock.__init__(self, wall, rate=speed)
                    self._anchored = True
        return super().__call__()
