"""The LB settings a recording ran with, for the what-if: a setting chosen equal to the one the
LB ran with changes nothing (replay.whatif keeps the recorded timeline then).

The recorded values are the ones detection ran with: the target group's stated settings
(replay.measure.lb_settings: the LB poller's reads and CloudTrail's Create/ModifyTargetGroup
calls, the newest of each), else the poller's reads the caller measured (replay.measure_store),
else the assumptions'. The deregistration delay never changes a window: it lets the
connections open at deregistration finish; new ones stop at deregistration either way. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState
from gapwatch.replay.measure import lb_settings
from gapwatch.replay.model import ServiceRef, WhatIf

#: The LB settings a what-if can set, and the DetectSettings field each is recorded in.
LB_SETTINGS: tuple[str, ...] = ("hc_interval_s", "hc_healthy_threshold", "hc_unhealthy_threshold")


def recorded_lb(
    detect_settings: DetectSettings, lb: Mapping[str, float] | None
) -> dict[str, float]:
    """The LB's health-check settings the recording ran with: the measured ones (target-group
    reads, replay.measure) where given, else the assumptions'."""
    out = {name: float(getattr(detect_settings, name)) for name in LB_SETTINGS}
    out.update({k: v for k, v in (lb or {}).items() if k in LB_SETTINGS})
    return out


def recorded_for(
    state: FoldState,
    svc: ServiceRef,
    detect_settings: DetectSettings,
    lb: Mapping[str, float] | None,
) -> dict[str, float]:
    """The Service's LB health-check settings as detection used them (replay.detect takes
    `lb_settings` per Service), the caller's measured `lb` where the state states none."""
    return recorded_lb(detect_settings, {**(lb or {}), **lb_settings(state, svc)})


def unchanged_dropped(settings: WhatIf, lb: Mapping[str, float]) -> WhatIf:
    """`settings` with every LB setting equal to the recorded one unset (choosing the value the
    LB ran with is "as recorded"), and the deregistration delay unset: it decides how long
    connections open at deregistration may finish, never whether new ones are routed, so it
    changes no window."""
    changes: dict[str, None] = {"deregistration_delay_s": None}
    for name in LB_SETTINGS:
        value = getattr(settings, name)
        if value is not None and float(value) == lb.get(name):
            changes[name] = None
    return replace(settings, **changes)
