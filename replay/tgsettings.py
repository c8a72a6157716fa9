"""A target group's health-check settings, as one observation states them (pure).

The LB poller's `TargetGroupAttributes` (what DescribeTargetGroups and
DescribeTargetGroupAttributes returned: `Attributes` keyed by the API's names) and CloudTrail's
`TargetChange` records of the calls that set them: `CreateTargetGroup` and `ModifyTargetGroup`
(health-check interval, thresholds, timeout: ELBv2 API reference) and
`ModifyTargetGroupAttributes` (deregistration delay), whose `requestParameters` carry the API
input with lower-camel keys. A failed call (op OBSERVED, `errorCode`) set nothing.
replay.measure (what `gapwatch assumptions` and what-if read) and replay.facts (the `tgconf`
fact detection reads) both take the values from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Setting name -> (poller attribute key, CloudTrail requestParameters key).
SETTING_KEYS: dict[str, tuple[str, str]] = {
    "hc_interval_s": ("HealthCheckIntervalSeconds", "healthCheckIntervalSeconds"),
    "hc_healthy_threshold": ("HealthyThresholdCount", "healthyThresholdCount"),
    "hc_unhealthy_threshold": ("UnhealthyThresholdCount", "unhealthyThresholdCount"),
    "hc_timeout_s": ("HealthCheckTimeoutSeconds", "healthCheckTimeoutSeconds"),
    "deregistration_delay_s": (
        "deregistration_delay.timeout_seconds",
        "deregistration_delay.timeout_seconds",
    ),
}
#: The calls whose requestParameters name the health check's settings directly.
_SETTING_CALLS = frozenset({"CreateTargetGroup", "ModifyTargetGroup"})


def number(raw: Any) -> float | None:
    """A setting's value: a number, or a string holding one (the API's attributes are text)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return None
    return None


def settings_read(kind: str, op: str, payload: Mapping[str, Any] | None) -> dict[str, float]:
    """The settings one observation states (empty: it states none)."""
    payload = payload or {}
    out: dict[str, float] = {}
    if kind == "TargetGroupAttributes":
        attrs = payload.get("Attributes")
        attrs = attrs if isinstance(attrs, Mapping) else {}
        for name, (key, _trail) in SETTING_KEYS.items():
            value = number(attrs.get(key))
            if value is not None:
                out[name] = value
    elif kind == "TargetChange" and op != "OBSERVED":
        params = payload.get("requestParameters")
        params = params if isinstance(params, Mapping) else {}
        event = payload.get("eventName")
        if event in _SETTING_CALLS:
            for name, (_key, trail) in SETTING_KEYS.items():
                value = number(params.get(trail))
                if value is not None:
                    out[name] = value
        elif event == "ModifyTargetGroupAttributes":
            items = params.get("attributes")
            pairs = {
                str(i.get("key")): i.get("value")
                for i in (items if isinstance(items, list) else [])
                if isinstance(i, Mapping)
            }
            for name, (key, _trail) in SETTING_KEYS.items():
                value = number(pairs.get(key))
                if value is not None:
                    out[name] = value
    return out
