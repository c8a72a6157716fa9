"""kube-proxy's close where no probe looked (docs/semantics.md, "Without any probes: confident
classes (session 38, branch s38-noprobe)").

Without a kube-proxy probe on a node F is inferred from the endpoints and the local pods' own
lanes, and a window with no local pod up read as `pod-gone-before-deregistered`: the dead
pod's rules still in place, the LB sending to them (refused). That holds only while kube-proxy
may still have had those rules. kube-proxy removes them at the sync that applies the
EndpointSlice change dropping the endpoint, at most its lag bound after it (replay.proxy
`proxy_lag_hi`: the `proxy_lag_max_s` assumption, or 2 x the sync period /configz states);
after that the node DROPs the NodePort's traffic ("has no local endpoints",
pkg/proxy/iptables/proxier.go): kube-proxy's close, `closed-before-deregistered`.

- `ever_up`: a node none of whose local pods was ever up (by their Pods or by the endpoints
  listing them) has no pod whose death opened a window.
- `rules_gone`: the endpoints listed nothing kube-proxy forwards to from the lag bound (and the
  watch skew) before the window's earliest start on: kube-proxy had surely removed the rules.
- `close_before_rise`: the LB's rise opened the window after the endpoint's loss was seen (less
  the watch skew and kube-proxy's least lag): the close may have come before the rise or after
  it, and nothing in a log without probes orders the two.

Pure functions of the lanes.
"""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.fold import Sample
from gapwatch.replay.opener import holds
from gapwatch.replay.signals import Step


def ever_up(
    alive: Sequence[Step], at_us: int, initial: bool, forwardable: Sequence[Step] = ()
) -> bool:
    """Whether a local pod was up on the node at some instant by `at_us` (`alive`: whether any
    was, replay.context.alive_steps; `initial`: up when the recording began), or the node listed
    an endpoint kube-proxy forwards to by then (`forwardable`, replay.lanes.Lanes.forwardable):
    the EndpointSlice controller lists an endpoint ready (or serving) only while its Pod is, so
    its pod was up however late the Pod stream listed it (replay.unseen.with_listing)."""
    return (
        initial
        or any(s.value for s in alive if s.earliest <= at_us)
        or any(s.value for s in forwardable if s.earliest <= at_us)
    )


def rules_gone(
    forwardable: Sequence[Step], eps: Sequence[Sample], lo_us: int, at_us: int, bound_us: int
) -> bool:
    """Whether the node listed no endpoint kube-proxy forwards to (`forwardable`,
    replay.lanes.Lanes.forwardable) from `bound_us` (kube-proxy's lag bound and the watch skew)
    before the window's earliest start `lo_us` through its latest start `at_us`: kube-proxy
    had removed the dead pod's rules by then. A node whose endpoints lane (`eps`) never listed
    one had none to remove; with no endpoints lane at all (what-if timelines) nothing is read."""
    if not forwardable:
        return bool(eps)
    if holds(forwardable, lo_us - bound_us, False):
        return False
    return not any(s.value for s in forwardable if lo_us - bound_us < s.latest <= at_us)


def close_before_rise(
    forwardable: Sequence[Step], at_us: int, skew_us: int, lag_lo_us: int
) -> bool:
    """Whether kube-proxy may have closed before the LB's latest possible rise `at_us`: the
    node's forwardable endpoints were last lost (a change from some to none) at an instant
    whose latest, less the watch skew (kube-proxy's watch may deliver a version that much
    before the recorder's) plus kube-proxy's least lag, lies before `at_us`, and none came back
    by then (seen up to the watch skew late)."""
    last = None
    for k, step in enumerate(forwardable):
        if step.latest > at_us + skew_us:
            break
        if not step.value and k and forwardable[k - 1].value:
            last = step
        elif step.value:
            last = None
    return last is not None and last.latest - skew_us + lag_lo_us < at_us
