"""What detection assumes where the log does not measure: every number, named, in one place.

Units: seconds (durations), counts (thresholds). The engine works in integer microseconds
(`seconds_us`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Microseconds per second (the engine's time unit is the microsecond).
US = 1_000_000


def seconds_us(seconds: float) -> int:
    """Seconds to integer microseconds (rounded)."""
    return round(seconds * US)


@dataclass(frozen=True, slots=True)
class DetectSettings:
    """Assumptions used only where a lane has no measurement (inferred provenance)."""

    proxy_lag_s: tuple[float, float] = (0.0, 2.0)
    ccm_lag_s: tuple[float, float] = (0.0, 10.0)
    ccm_mode: str | None = None  # "endpoint" | "node"; None: decide from the LB data
    hc_interval_s: float = 10.0
    hc_healthy_threshold: int = 2
    hc_unhealthy_threshold: int = 2
    proxy_terminating_endpoints: bool | None = None  # None: from the nodes' kube-proxy version


DEFAULTS = DetectSettings()
