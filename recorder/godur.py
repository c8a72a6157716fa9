"""Go's `time.Duration` text, as `metav1.Duration` marshals it (`Duration.String()`: `30s`,
`1m0s`, `1h0m0s`, `500ms`, `1.5s`, `0s`) and `time.ParseDuration` reads it. Pure.

kube-proxy's `/configz` prints its sync periods this way (`"SyncPeriod": "30s"`); a config file
may hold any text `ParseDuration` takes (`90s`, `1h30m`), which is what this reads: an optional
sign, then one or more decimal numbers each with a unit (ns, us, µs, ms, s, m, h).
"""

from __future__ import annotations

import re

#: seconds per unit (time.ParseDuration's table; `µs` in both of Go's spellings)
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
          "m": 60.0, "h": 3600.0}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float | None:
    """Seconds for Go duration text (`1m0s` -> 60.0); None for text `ParseDuration` refuses
    (no unit, an unknown unit, empty). `0` alone is Go's zero, as ParseDuration allows."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        return None
    total, at = 0.0, 0
    for part in _PART.finditer(body):
        if part.start() != at:
            return None
        total += float(part.group(1)) * _UNITS[part.group(2)]
        at = part.end()
    return sign * total if at == len(body) else None
