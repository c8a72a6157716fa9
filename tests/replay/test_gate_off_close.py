"""A window read as a terminating pod's death on a kube-proxy surely without
ProxyTerminatingEndpoints names kube-proxy's close where a health look inside its start range
dates that close and the death may have come after it (replay.termsync; docs/semantics.md,
"kube-proxy's gate from its configuration (session 30)").

Without the gate kube-proxy drops a terminating endpoint when a rule sync applies the change,
some lag after the EndpointSlice listed it, not at the listing; the health check's 503
counting none shows that sync done. Literal lane samples of random 26,000,401 node-002 (window
at 00:02:15, `--without-nodeport --with-configz`: kube-proxy 1.24, its /configz naming no gate,
so off as measured): the old pod listed serving-terminating 2.6 s before the window, the
replacement listed ready 0.34 s before it, a health look counting one ready endpoint at the
window's earliest start and the next, 0.5 s later, 503 counting none; the old pod's kubelet
reports its stop (finishedAt, to the second) 0.5-3.3 s after the earliest start. Read
`pod-gone-before-deregistered`, certain, with nothing named; truth `registered-before-forwarding`
(kube-proxy synced the old pod's termination, not yet the replacement's listing, and the pod
died after)."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import Sample
from gapwatch.replay.termsync import Stop, synced_before_death
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay import builders as b

S = 1_000_000  # microseconds in a second


def _swap(gates: dict[str, bool] | None) -> list[Observation]:
    """p1 on n1 (kube-proxy 1.24.17) deleted at 17.4 s (grace 60) and listed
    serving-terminating at 17.374 s; p2 Ready at 19.64 s and listed ready at 19.657 s; p1's
    container stopped at 21 s (finishedAt), seen at 23.267 s. The health check every 0.5 s
    counts one ready local endpoint until 20 s, none from 20.5 s, one again from 23 s;
    the LB routes to n1 at every poll (10 s). `gates`: kube-proxy's /configz (None: not
    read)."""
    obs: list[Observation] = b.one_node("v1.24.17")
    if gates is not None:
        obs.append(b.proxy_config(1.5, "n1", gates))
    obs += [b.target(t, t - 10, "n1", "healthy") for t in range(11, 80, 10)]
    obs += [
        b.pod(17.4, "p1", "n1", "terminating", deleted_at=17.4, grace=60),
        b.eps(17.374, [("p1", "n1", "terminating")]),
        b.pod(17.68, "p2", "n1", "pending"),
        b.pod(19.64, "p2", "n1", "ready"),
        b.eps(19.657, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(23.267, "p1", "n1", "gone", deleted_at=17.4, grace=60, finished=21),
        b.eps(23.3, [("p2", "n1", "ready")]),
    ]
    obs += b.health_looks("n1", [0.5 * k for k in range(1, 120)], lambda t: 0 if 20 < t < 23 else 1)
    return obs


def test_the_close_a_look_dates_is_named_beside_the_death() -> None:
    window = b.window_on(_swap({}), "n1", DEFAULTS)
    assert window.certain
    assert window.cls == PGBD
    assert RBF in window.also


def test_the_gate_set_off_by_assumption_names_it_too() -> None:
    # `gapwatch assumptions --set proxy_terminating_endpoints=false` takes the same path
    settings = replace(DEFAULTS, proxy_terminating_endpoints=False)
    window = b.window_on(_swap(None), "n1", settings)
    assert window.cls == PGBD
    assert RBF in window.also


def test_the_look_must_follow_the_termination_and_the_death_may_follow_the_range() -> None:
    looks = [Sample(20_500_000, 20_000_000, "503", 1, 0)]
    stop = Stop(seen_us=23_267_000, terminating_us=17_374_000, latest_us=23_267_000)
    assert synced_before_death(looks, [stop], 20 * S, 20_500_000) == {23_267_000}
    # the pod turned terminating after the look: the 503 was not its termination's sync
    later = stop._replace(terminating_us=20_600_000)
    assert synced_before_death(looks, [later], 20 * S, 20_500_000) == set()
    # the kubelet places the death before the range: nothing came before it there
    dead = stop._replace(latest_us=19_900_000)
    assert synced_before_death(looks, [dead], 20 * S, 20_500_000) == set()
    # a 503 counting a ready endpoint (not kube-proxy's health) or a look outside the range
    assert synced_before_death([looks[0]._replace(num=1)], [stop], 20 * S, 20_500_000) == set()
    assert synced_before_death(looks, [stop], 20_500_000, 21 * S) == set()
