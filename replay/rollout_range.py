"""The range a rollout's what-if and advice read: one answer for `gapwatch whatif --rollout` and
the dashboard's What-if page.

From the rollout's start (no window of it starts before: replay.group gives a window to a group
whose span holds its start) to its end plus `settle_s`, the time after a rollout that a window
starting then may still be its (replay.group). Its end alone missed the windows other settings
move later: on the demo's seed rollout the advice over its span said preStop 1 s, and with the
worst-case lags that leaves a pod-gone-before-deregistered window on NODE1 from 1.0 s to 9.0 s
after the recorded end, which the range until the end + settle_s counts (the advice: 10 s, as
over the whole history). A margin either side (the page's lanes, 15 s) counted a window of no
rollout that ended before the rollout began as the rollout's.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.model import Rollout


def rollout_range(rollout: Rollout, settings: DetectSettings) -> tuple[int, int]:
    """[since, until) in µs for the what-if and advice of `rollout`."""
    return rollout.start_us, rollout.end_us + seconds_us(settings.settle_s)
