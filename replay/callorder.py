"""When a polled R turned on, bounded below by the CloudTrail call that registered the target.
Pure.

The LB poller sees a target turn healthy somewhere between two looks `(a, b]`. Where the look at
`a` saw it unregistered (absent, or draining: deregistered) the LB could not route to it before
a RegisterTargets call put it back: the turn-on lies after the last RegisterTargets call of the
node before `b` (CloudTrail's `eventTime`, whole seconds on AWS's clock: the call lies within
`EVENT_TIME_RESOLUTION_US` of it, plus the assumed clock skew, replay.membership). No apply lag
is assumed (AWS documents none: registration takes effect "3-5 min" later by AWS support's
word, DESIGN.md section 6, which bounds nothing below), so the call itself is only the earliest
bound. A target the look at `a` saw registered (initial, unhealthy) turned on by its health
checks, which no call times: its turn-on stays as polled.
"""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.fold import Sample
from gapwatch.replay.membership import REGISTERED
from gapwatch.replay.signals import Step

#: Target states of a registered target: a turn-on from these came from health checks.
_REGISTERED = frozenset({"initial", "healthy", "unhealthy", "unused"})


def after_calls(
    steps: Sequence[Step], samples: Sequence[Sample], calls: Sequence[Sample], within_us: int
) -> list[Step]:
    """`steps` (R from the poller's `samples`, in time order) with each turn-on from an
    unregistered target starting no earlier than the register call before it (`calls`, the
    node's membership lane; `within_us`: how far a call may be from its eventTime)."""
    registers = sorted(c.at_us for c in calls if c.value == REGISTERED)
    if not registers:
        return list(steps)
    index = {s.event_id: i for i, s in enumerate(samples)}
    out: list[Step] = []
    for step in steps:
        i = index.get(step.event_id)
        if step.value and i is not None and _unregistered_before(samples, i):
            step = _after(step, registers, within_us)
        out.append(step)
    return out


def _unregistered_before(samples: Sequence[Sample], i: int) -> bool:
    """The look before sample `i` saw the target unregistered: absent or draining, or, for the
    lane's first sample, a previous look of the group that did not list it."""
    if i == 0:
        return samples[0].prev_us is not None
    return samples[i - 1].value not in _REGISTERED


def _after(step: Step, registers: Sequence[int], within_us: int) -> Step:
    called = [c - within_us for c in registers if c - within_us <= step.latest]
    if not called or called[-1] <= step.earliest:
        return step
    return step._replace(earliest=called[-1])
