"""An LB's rise onto a node whose ready endpoint kube-proxy never programmed (docs/semantics.md,
"Classes on the fourteenth spent set (session 31)", rule CC).

A registration is caused by a ready endpoint: an endpoint-driven CCM registers the nodes that
hold the Service's ready endpoints (Alibaba's CCM rewrites its vServer groups on endpoint
changes, TKE binds only nodes with pods), a health-checking LB passes a node whose
healthCheckNodePort answers 200, which kube-proxy does only while it counts a ready local
endpoint (the design notes, section 6). Where the LB's rise opened a window inside a start range
that held a ready endpoint's listing, and kube-proxy surely forwarded nothing from that listing
to the range's end (F, from its looks, surely false throughout), the LB registered the node for
an endpoint kube-proxy had not programmed: `registered-before-forwarding`, whatever became of
the endpoint before the LB was seen routing (it may have turned terminating or left by then:
nothing was programmed, so nothing closed). Pure functions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import islice

from gapwatch.replay.fold import AT_US, Sample
from gapwatch.replay.signals import Tri, value_at


def ready_listed_in(eps: Sequence[Sample], lo_us: int, hi_us: int) -> int | None:
    """The first instant of [`lo_us`, `hi_us`] at which the endpoints lane (time-ordered) listed
    a ready endpoint (`lo_us` itself where one was listed then; None: at none)."""
    if value_at(eps, lo_us) == "ready":
        return lo_us
    i = bisect_right(eps, lo_us, key=AT_US)
    j = bisect_right(eps, hi_us, lo=i, key=AT_US)
    return next((s.at_us for s in islice(eps, i, j) if s.value == "ready"), None)


def surely_unforwarded(serves: Tri, lo_us: int, hi_us: int) -> bool:
    """Whether F (`serves`) was surely false over all of [`lo_us`, `hi_us`]: no stretch where it
    may have been true touches it (a plain loop: the stretches need not form a chain,
    replay.chains)."""
    return not any(iv.start <= hi_us and iv.end > lo_us for iv in serves.possible)


def registered_unprogrammed(eps: Sequence[Sample], serves: Tri, since_us: int, at_us: int) -> bool:
    """Whether a ready endpoint was listed in the LB's rise range [`since_us`, `at_us`] and
    kube-proxy surely forwarded nothing from that listing to `at_us` (the rise's cause is that
    endpoint, and it was never programmed)."""
    listed = ready_listed_in(eps, since_us, at_us)
    return listed is not None and surely_unforwarded(serves, listed, at_us)
