"""A window read as a terminating pod's death names kube-proxy's close, and a close after a
replacement's listing names `registered-before-forwarding`, also where that listing came
after the death but inside the window's start range (replay.undecided.death_or_close;
docs/semantics.md "Confidently wrong windows (session 26, branch s26-wrong)").

kube-proxy applies the EndpointSlice versions its watch delivers, some lag after each was
written: a close at the old pod's loss may come after the replacement's listing, and then a
ready endpoint was listed and not yet programmed when the gap opened, the class as defined.
Rule R named it only where the listing came by the death. Literal lane samples of random
5,000,555 node-003 (kube-proxy 1.24, the gate at its default, endpoint-driven; health checks
over 20 s apart): the old pod listed serving-terminating at +0.864 s, its container stopped
(finishedAt, to the second) and the stop seen at +1.925 s, the replacement listed ready at
+1.942 s; the window's start range [0, +7.49]. Read `pod-gone-before-deregistered` with only
`closed-before-deregistered` named; truth `registered-before-forwarding` (the endpoint-driven
LB took the node back for the replacement before kube-proxy programmed it)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import Sample
from gapwatch.replay.undecided import CBD, PGBD, RBF, Ordering, death_or_close
from tests.replay import builders as b

S = 1_000_000  # microseconds in a second

EPS = [
    Sample(-60 * S, None, "ready", 1),
    Sample(864_000, 0, "serving-terminating", 2),
    Sample(1_942_000, 864_000, "ready", 3),
]
# the old pod: last seen up at +0.603 s (its terminating update), seen stopped at +1.925 s;
# finishedAt 00:02:23 places the stop in [+1.01, +1.925]
ORDER = Ordering(deaths=[(603_000, 1_925_000)], spans=[(1_010_000, 1_925_000)], skew_us=S)


def test_a_listing_after_the_death_inside_the_start_range_is_named() -> None:
    named = death_or_close(PGBD, EPS, ORDER, 0, 7_490_000, False, None)
    assert named == (CBD, RBF)


def test_a_listing_after_the_start_range_names_the_close_only() -> None:
    # the start range ends before the listing: kube-proxy closed before it was written
    named = death_or_close(PGBD, EPS, ORDER, 0, 1_930_000, False, None)
    assert named == (CBD,)


def test_the_swap_observed_names_the_close_after_the_listing() -> None:
    """The same swap as observations: p1 on n1 (kube-proxy 1.24) deleted at 10.6 s (grace 60)
    and listed serving-terminating at 10.86 s; p2 pending at 10.65 s, Ready at 11.87 s; p1's
    container stopped at 11 s (finishedAt), seen at 11.925 s; the slice lists p1 stopped and
    p2 ready at 11.94 s. The health check counts one ready local endpoint at every look (2 s),
    the LB routes to n1 at every poll (10 s)."""
    obs: list[Observation] = b.one_node("v1.24.17")
    obs += [b.target(t, t - 10, "n1", "healthy") for t in range(11, 80, 10)]
    obs += [
        b.pod(10.6, "p1", "n1", "terminating", deleted_at=10.6, grace=60),
        b.pod(10.65, "p2", "n1", "pending"),
        b.eps(10.86, [("p1", "n1", "terminating")]),
        b.pod(11.87, "p2", "n1", "ready"),
        b.pod(11.925, "p1", "n1", "gone", deleted_at=10.6, grace=60, finished=11),
        b.eps(11.94, [("p1", "n1", "stopped"), ("p2", "n1", "ready")]),
    ]
    obs += b.health_looks("n1", [0.5 + 2 * k for k in range(40)], lambda t: 1)
    window = b.window_on(obs, "n1", DEFAULTS)
    assert window.cls == PGBD
    assert window.also == (CBD, RBF)
