"""Go's `time.Time.String()` text, as kube-proxy's /healthz and /livez write `lastUpdated` and
`currentTime` (`fmt.Fprintf(..., "%q", t)`: the String() form, quoted). Pure.

The form is the layout `2006-01-02 15:04:05.999999999 -0700 MST` (the fraction without trailing
zeros, none when zero; the zone's abbreviation, or a numeric one such as `+08` where the zone has
none), then ` m=+SECONDS.NNNNNNNNN` when the value carries Go's monotonic clock reading (every
`time.Now()` does). Samples: `2020-06-03 23:59:53.688063083 +0000 UTC m=+202.631797660`
(kube-proxy, cilium/cilium#11733), `2022-08-18 16:16:11.6510411 +0000 GMT m=+257377.633892701`
(Windows, antrea-io/antrea#4196). The zero time.Time (`0001-01-01 00:00:00 +0000 UTC`) is what a
kube-proxy that has not synced since it started reports as its last sync.

The reader never raises: a value it cannot read comes back with the reason, for the caller to
keep beside the ignored field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

_GO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r" ([+-])(\d{2})(\d{2}) (?:[A-Za-z]{1,10}|[+-]\d{2}(?:\d{2})?)"
    r"(?: m=[+-]\d{1,20}\.\d{9})?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Go's zero time.Time, in microseconds since the epoch
ZERO_US = -62_135_596_800_000_000
_MAX_TEXT = 80


class GoTime(NamedTuple):
    """What a Go time text says: microseconds since the epoch (UTC; nanoseconds truncated), or
    None with the reason it was not read. `zero`: Go's zero time (a time never set)."""

    us: int | None
    reason: str | None = None
    zero: bool = False


def read_go_time(value: object) -> GoTime:
    """`value` (a JSON field's value) read as Go's time.Time.String() text."""
    if not isinstance(value, str):
        return GoTime(None, f"not a string: {type(value).__name__}")
    shown = value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
    m = _GO.fullmatch(value)
    if m is None:
        return GoTime(None, f"not Go's time.Time.String() form: {shown!r}")
    year, month, day, hour, minute, second, frac, sign, oh, om = m.groups()
    try:
        offset = timedelta(hours=int(oh), minutes=int(om))
        zone = timezone(-offset if sign == "-" else offset)
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
        delta = local - _EPOCH
    except (ValueError, OverflowError) as exc:  # month 13, hour 25, an offset of 24 h or more
        return GoTime(None, f"no such time: {shown!r} ({exc})")
    micros = int((frac or "0").ljust(9, "0")[:6])
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + micros
    return GoTime(us, None, us == ZERO_US)


def format_go_time(us: int, *, monotonic_us: int | None = None) -> str:
    """Microseconds since the epoch as Go's time.Time.String() prints a UTC time;
    `monotonic_us`: the monotonic reading (` m=+...`, as time.Now() carries), seconds since
    the process started."""
    sec, micros = divmod(us, 1_000_000)
    at = _EPOCH + timedelta(seconds=sec)
    text = (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d}:{at.second:02d}"
    )
    if micros:
        text += "." + f"{micros:06d}".rstrip("0")
    text += " +0000 UTC"
    if monotonic_us is not None:
        sign = "-" if monotonic_us < 0 else "+"
        whole, part = divmod(abs(monotonic_us), 1_000_000)
        text += f" m={sign}{whole}.{part * 1000:09d}"
    return text
