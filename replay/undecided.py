"""Classes the samples cannot decide (docs/semantics.md, "Undecided classes").

A window's `cls` is the likelier cause at its start; `Window.also` names the other causes the
samples allow just as well. Two reactions to one EndpointSlice change that fell between the
same two looks are not ordered by the log: where a node's endpoints lost their ready endpoints
and got them back (a replacement pod) with no LB poll in between, the LB may have dropped the
node and taken it back unseen before kube-proxy opened (`registered-before-forwarding`) or kept
routing while kube-proxy closed (`closed-before-deregistered`). The window names both.
Likewise a local pod's death against kube-proxy's close or the LB's unseen rise
(`death_or_close`, `death_unordered`), a failing-open LB against the arrival of the node's
first ready endpoint (`opened_before_ready`), the LB's return between two looks against
kube-proxy's side (`unseen_return`), and a NotReady a Node relist may have hidden
against the class the stale lanes give (`hidden_not_ready`), kube-proxy's close and
reopening between two probes against a local pod's later death (`unseen_close`; where the
return listed a ready endpoint, the close may have landed after that listing too), the LB's
rise against kube-proxy's removal of a dead pod's rules (`rules_left_unordered`), and
kube-proxy's close against a replacement's listing inside the range (`listed_inside`).

Also here: the drop lag a node-driven LB cannot beat when none was measured (its health check
must fail `hc_unhealthy_threshold` times, `hc_interval_s` apart). Pure functions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import AT_US, Sample
from gapwatch.replay.model import Window, WindowClass
from gapwatch.replay.signals import Iv, Step

CBD: WindowClass = "closed-before-deregistered"
PGBD: WindowClass = "pod-gone-before-deregistered"
RBF: WindowClass = "registered-before-forwarding"
NNR: WindowClass = "node-not-ready"
#: probe answers that show kube-proxy's rules in place with no pod behind them
_RULES_UP = ("refused", "reset")

#: The two readings of an unordered LB and kube-proxy reaction.
UNORDERED: tuple[WindowClass, ...] = ("registered-before-forwarding", "closed-before-deregistered")


def times_of(lane: Sequence[Sample]) -> list[int]:
    """A time-ordered lane's sample times, to bisect (a caller that asks of one lane many
    times finds them once and passes them on)."""
    return [s.at_us for s in lane]


def unseen_lb_excursion(
    eps: Sequence[Sample],
    polls: Sequence[Sample],
    start_us: int,
    end_us: int,
    skew_us: int,
    *,
    eps_at: Sequence[int] | None = None,
    polls_at: Sequence[int] | None = None,
) -> bool:
    """Whether the last time the endpoints lane (time-ordered) lost its ready endpoints before
    `end_us` (the change seen up to `skew_us` late) they came back, and no LB poll (`polls`,
    the target lane, time-ordered) looked between the loss and the later of the return and
    the window's start, nor saw the node not routed inside the window: the LB may have
    dropped the node and taken it back unseen while the window opened. `eps_at` and
    `polls_at`: the lanes' times, when the caller has them."""
    found = lb_excursion(eps, end_us, skew_us, eps_at=eps_at)
    if found is None:
        return False
    lost, came = found
    k = bisect_right(polls_at if polls_at is not None else times_of(polls), lost)
    if k < len(polls) and polls[k].at_us < max(came, start_us):
        return False
    # a poll inside the window that saw the node not routed: the drop was seen
    return all(p.value == "healthy" for p in polls[k:] if p.at_us < end_us)


def lb_excursion(
    eps: Sequence[Sample], end_us: int, skew_us: int, *, eps_at: Sequence[int] | None = None
) -> tuple[int, int] | None:
    """The last time the endpoints lane (time-ordered) lost its ready endpoints before `end_us`
    (the change seen up to `skew_us` late) and the time they came back; None where they did
    not (`eps_at`: the lane's times, when the caller has them)."""
    # searched back from the first change that came too late (at or after end_us + skew_us)
    n = bisect_left(eps_at if eps_at is not None else times_of(eps), end_us + skew_us)
    i = n - 1
    while i >= 1 and (eps[i].value == "ready" or eps[i - 1].value != "ready"):
        i -= 1
    if i < 1:
        return None
    back = next((j for j in range(i + 1, len(eps)) if eps[j].value == "ready"), None)
    return None if back is None else (eps[i].at_us, eps[back].at_us)


def also_classes(
    cls: WindowClass,
    eps: Sequence[Sample],
    polls: Sequence[Sample],
    start_us: int,
    end_us: int,
    skew_us: int,
    times: tuple[Sequence[int], Sequence[int]] | None = None,
) -> tuple[WindowClass, ...]:
    """The other class of an unproven window read as one of the two `UNORDERED` classes, when
    the LB's reaction to the endpoints' excursion inside it is unseen; else () (`times`: the
    two lanes' times, when the caller has them)."""
    if cls not in UNORDERED:
        return ()
    eps_at, polls_at = times if times is not None else (None, None)
    if not unseen_lb_excursion(
        eps, polls, start_us, end_us, skew_us, eps_at=eps_at, polls_at=polls_at
    ):
        return ()
    return tuple(c for c in UNORDERED if c != cls)


def unseen_return(
    polls: Sequence[Sample], polls_at: Sequence[int], lo_us: int, hi_us: int
) -> tuple[int, int] | None:
    """The LB's return to the node fell between two looks: the last look before `hi_us` that
    saw the LB not routing to the node and the look right after it, which saw it routing again
    (`healthy`), where that stretch reaches into [`lo_us`, `hi_us`]. The two looks' times; None
    where no such pair is there. Inside it the rise is anywhere: the log does not order it
    against kube-proxy's side or a pod's death that fell in the same stretch."""
    i = bisect_left(polls_at, hi_us)
    for k in range(i - 1, -1, -1):
        if polls[k].value == "healthy":
            continue
        nxt = k + 1
        if nxt >= len(polls) or polls[nxt].value != "healthy" or polls_at[nxt] < lo_us:
            return None
        return polls_at[k], polls_at[nxt]
    return None


def health_check_drop_floor(settings: DetectSettings) -> int:
    """The shortest time (microseconds) a node-driven LB takes to stop routing to a node whose
    health check began failing: `hc_unhealthy_threshold` failed checks, the first possibly at
    once, the others `hc_interval_s` apart (the assumptions, or the target group's attributes
    where they were read: replay.measure)."""
    return seconds_us(max(0, settings.hc_unhealthy_threshold - 1) * settings.hc_interval_s)


def death_unordered(spans: Sequence[tuple[int, int]], since_us: int, at_us: int) -> bool:
    """Whether a local pod may have died inside a window's start range (`since_us`, `at_us`]
    while kube-proxy's close is read as its cause: each death lies in its span
    (replay.unseen.death_spans: the kubelet's finishedAt, else no earlier than the kubelet's
    status write plus the watch before the update that says it stopped). Nothing orders that
    death against kube-proxy's close: either may have opened the window."""
    return any(lo < at_us and hi > since_us for lo, hi in spans)


class Ordering(NamedTuple):
    """What orders a local pod's death against kube-proxy's close: the Pod updates around
    each death (replay.unseen.death_ranges), when each may have happened
    (replay.unseen.death_spans) and the watch skew."""

    deaths: Sequence[tuple[int, int]]
    spans: Sequence[tuple[int, int]]
    skew_us: int


def death_or_close(
    cls: WindowClass,
    eps: Sequence[Sample],
    order: Ordering,
    since_us: int,
    at_us: int,
    pte: bool,
    reason: str | None,
    *,
    eps_at: Sequence[int] | None = None,
) -> tuple[WindowClass, ...]:
    """The other reading of a window that kube-proxy's side opened in (`since_us`, `at_us`]:
    one read as kube-proxy's close names the pod's death where a local pod may have died in
    that range (`death_unordered`); one read as the pod's death, unless a probe saw the rules
    with no pod behind them (`reason`), names kube-proxy's close where it may have come first
    (`close_unordered`; `eps_at`: the endpoints lane's times, when the caller has them), and
    where a replacement was listed ready again by the death or after it inside the range
    (`_relisted`), a close after that listing too: kube-proxy then closed with it listed and
    not yet programmed (`registered-before-forwarding`, the class as defined)."""
    if cls == CBD and death_unordered(order.spans, since_us, at_us):
        return (PGBD,)
    closed = cls == PGBD and reason not in _RULES_UP
    if closed and close_unordered(
        eps, order.deaths, since_us, at_us, order.skew_us, pte, eps_at=eps_at
    ):
        at = _at_first_death(eps, order.deaths, since_us, at_us, order.skew_us, eps_at)
        return (CBD, RBF) if at is not None and _relisted(eps, at[1], at_us, eps_at) else (CBD,)
    return ()


def _relisted(
    eps: Sequence[Sample], i: int, at_us: int, eps_at: Sequence[int] | None = None
) -> bool:
    """Whether the endpoints lane listed a ready endpoint at the first death (its `i`th
    sample the last one at or before it) or again after it, before the start range's end
    `at_us`: kube-proxy applies the versions its watch delivers, some lag after each was
    written, so its close may have come after that listing, the endpoint listed and not yet
    programmed (`registered-before-forwarding`, the class as defined)."""
    if not i:
        return False
    times = eps_at if eps_at is not None else times_of(eps)
    return eps[i - 1].value == "ready" or any(
        eps[j].value == "ready" for j in range(i, bisect_left(times, at_us))
    )


def _at_first_death(
    eps: Sequence[Sample],
    deaths: Sequence[tuple[int, int]],
    since_us: int,
    at_us: int,
    skew_us: int,
    eps_at: Sequence[int] | None,
) -> tuple[int, int] | None:
    """The first update that says a local pod stopped in the start range (`deaths`: each
    one's last update up and the one that says it stopped), and how many samples of the
    endpoints lane lie at or before it (or the watch skew after `at_us`, the earlier)."""
    seen = [gone for up, gone in deaths if up < at_us + skew_us and gone > since_us]
    if not seen:
        return None
    first = min(seen)  # a death seen before the loss opened the window before kube-proxy
    times = eps_at if eps_at is not None else times_of(eps)
    return first, bisect_right(times, min(first, at_us + skew_us))


def close_unordered(
    eps: Sequence[Sample],
    deaths: Sequence[tuple[int, int]],
    since_us: int,
    at_us: int,
    skew_us: int,
    pte: bool,
    *,
    eps_at: Sequence[int] | None = None,
) -> bool:
    """Whether kube-proxy may have closed before the local pod died, in a window read as the
    pod's death: the endpoints lane (time-ordered) lost what kube-proxy forwards to (its ready
    endpoints; with ProxyTerminatingEndpoints surely on, `pte`, every serving one) before the
    update that says the pod stopped, so kube-proxy may have closed (any lag after the
    change, seen up to `skew_us` late) inside the start range (`since_us`, `at_us`] before
    that death. Nothing orders kube-proxy's lag against the pod's death there."""
    keep = ("ready", "serving-terminating") if pte else ("ready",)
    found = _at_first_death(eps, deaths, since_us, at_us, skew_us, eps_at)
    if found is None:
        return False
    first, i = found
    # the last loss before it, whether or not a replacement was listed again by the death: a
    # close at that loss left the node without rules until kube-proxy programmed the listing
    lost = next(
        (
            eps[j].at_us
            for j in range(i - 1, 0, -1)
            if eps[j - 1].value in keep and eps[j].value not in keep
        ),
        None,
    )
    if lost is None or not lost < first or lost - skew_us >= at_us:
        return False
    # listed forwardable again by the death: only a loss inside the start range is a close there
    return eps[i - 1].value not in keep or lost > since_us - skew_us


def unseen_close(
    forwardable: Sequence[Step], looks_at: Sequence[int], since_us: int, at_us: int, skew_us: int
) -> bool:
    """Whether kube-proxy may have closed and opened again unseen inside a window's start range
    (`since_us`, `at_us`]: the node's endpoints kube-proxy forwards to (`forwardable`,
    replay.lanes.Lanes.forwardable) went away there (the change seen up to `skew_us` late) and
    came back with the next change, and no probe (`looks_at`: the times of the samples F is
    measured from) looked at the node between the two. kube-proxy closes some lag after the
    loss and opens again the same way after the return: a stretch no look saw, with the LB
    still routing (`closed-before-deregistered`); a local pod seen dying later does not order
    it against a kube-proxy that programmed neither change in time."""
    return unseen_reopening(forwardable, looks_at, since_us, at_us, skew_us) is not None


def unseen_reopening(
    forwardable: Sequence[Step], looks_at: Sequence[int], since_us: int, at_us: int, skew_us: int
) -> int | None:
    """When the forwardable endpoints came back after a close no probe saw (`unseen_close`,
    same arguments): the latest instant of the return; None where there was no such close."""
    for k in range(len(forwardable) - 1):
        lost, back = forwardable[k], forwardable[k + 1]
        if lost.value or not back.value:
            continue
        if not since_us - skew_us < lost.latest <= at_us + skew_us:
            continue
        i = bisect_right(looks_at, lost.latest)
        if i == len(looks_at) or looks_at[i] > back.latest:
            return back.latest
    return None


def listed_inside(eps: Sequence[Sample], since_us: int, at_us: int) -> bool:
    """Whether the endpoints lane (time-ordered) listed a ready endpoint at `at_us` that it did
    not list all through [`since_us`, `at_us`]: the listing fell inside that range. Read at a
    close's latest instant (`registered-before-forwarding`: the replacement listed and not yet
    programmed), the close may have come before it, the LB still routing:
    `closed-before-deregistered` (kube-proxy without ProxyTerminatingEndpoints drops a
    terminating endpoint at the rules sync that applies it, KEP-1669; nothing orders that sync
    against the listing between two looks that saw no change)."""
    i = bisect_right(eps, at_us, key=AT_US)
    if not i or eps[i - 1].value != "ready":
        return False
    j = bisect_right(eps, since_us, key=AT_US)
    return not j or any(s.value != "ready" for s in eps[j - 1 : i])


def rules_left_unordered(
    samples: Sequence[Sample], times: Sequence[int], since_us: int, at_us: int
) -> bool:
    """Whether kube-proxy may still have forwarded to a dead pod when a window read as its
    close (or a registration before it forwarded) opened in (`since_us`, `at_us`]: of the
    probes F is measured from (`samples`, time-ordered, `times` theirs), the last one by
    `at_us` got no answer (no rules: dropped) and the one before it was refused or reset (the
    rules in place with no pod behind them), that change lying across the start range. The
    LB's rise there is not ordered against kube-proxy's removal of the dead pod's rules:
    before it, `pod-gone-before-deregistered` opened the window."""
    i = bisect_right(times, at_us)
    if i < 2:
        return False
    last, before = samples[i - 1], samples[i - 2]
    silent = last.value not in _RULES_UP and not last.value.isdigit() and last.value != "connected"
    return silent and before.value in _RULES_UP and before.at_us < at_us and last.at_us > since_us


def rules_gone_unordered(samples: Sequence[Sample], times: Sequence[int], at_us: int) -> bool:
    """Whether the dead pod's rules may already have been gone when a window read as
    `pod-gone-before-deregistered` from them opened with the LB's rise by `at_us`: of the probes
    F is measured from, the last not-serving one by `at_us` was refused or reset (the rules in
    place, no pod behind them) and the next look changed that before `at_us` may have (its
    `prev_us`, the last refused look, lies before it). The LB's rise after their removal opened
    a gap of another class (the mirror of `rules_left_unordered`)."""
    i = bisect_right(times, at_us)
    j = next((k for k in range(i - 1, -1, -1) if samples[k].value in _RULES_UP), None)
    if j is None or j + 1 >= len(samples) or samples[j].at_us >= at_us:
        return False
    after = samples[j + 1]
    last_up = after.prev_us if after.prev_us is not None else samples[j].at_us
    return after.value not in _RULES_UP and last_up < at_us


def opened_before_ready(
    eps: Sequence[Sample],
    polls: Sequence[Sample],
    since_us: int,
    at_us: int,
    *,
    eps_at: Sequence[int] | None = None,
    polls_at: Sequence[int] | None = None,
) -> bool:
    """Whether a window read as `registered-before-forwarding` (the node's endpoints ready at
    its start, kube-proxy not yet forwarding) may have opened before they were: the endpoints
    lane (time-ordered) had no ready endpoint at the window's earliest start `since_us`, and
    the LB's polls (`polls`, time-ordered) saw the node not routed from before it through
    `at_us` (where the window is classed), so the LB's routing there came from outside the
    node's own registration (failing open) and owes nothing to its endpoints. It may then
    have begun while the node had nothing to forward to (`closed-before-deregistered`) or
    after the endpoint arrived; nothing in the samples orders the two (`eps_at`, `polls_at`:
    the lanes' times, when the caller has them)."""
    i = bisect_right(eps_at if eps_at is not None else times_of(eps), since_us)
    if i and eps[i - 1].value == "ready":
        return False
    k = bisect_right(polls_at if polls_at is not None else times_of(polls), since_us)
    if not k or polls[k - 1].value == "healthy":
        return False
    return all(p.value != "healthy" for p in polls[k:] if p.at_us <= at_us)


def hidden_not_ready(windows: Sequence[Window], over: Sequence[Iv]) -> list[Window]:
    """`windows` (one node's) with `node-not-ready` named in `also` where a window's start range
    [start_earliest, start_latest] meets a stretch over which the node's Ready condition is
    unknown (`over`: a Node relist passed over it, replay.relisted.node_stretches): a NotReady
    hidden there may have opened the window, while its class came from lanes that were watched
    (or stale). A window that opened before the stretch had its cause seen; one classed
    `node-not-ready` already says it. With no such stretch, the windows as they are (no
    window's `any` over an empty list: a refresh passes every window of the node)."""
    if not over:
        return list(windows)
    out = []
    for w in windows:
        meets = any(iv.start <= w.start_latest_us and w.start_earliest_us <= iv.end for iv in over)
        if meets and w.cls != NNR and NNR not in w.also:
            w = replace(w, also=(*w.also, NNR))
        out.append(w)
    return out
