"""Rule AA with a look inside the excursion made before the slice listed nothing
(docs/semantics.md, "The tenth spent set read"; naming only).

Random 23,000,313 node-001's shape (there kube-proxy 1.28, here 18,000,127's 1.26): an
endpoint-driven CCM polled every 10 s (all polls healthy), the health check probed every 0.5 s
and no NodePort probe. The old pod terminates (listed serving-terminating), the health check
answers 503 counting none, the pod dies, the slice drops its endpoint (nothing listed on the
node), the replacement is listed ready. The truth: the CCM drained the node after the
termination and took it back 0.3 s after the listing, unseen between two polls, while
kube-proxy, having synced the empty slice, held no rules: `registered-before-forwarding`. The
503 came before the slice listed nothing, so it says nothing of the rules at the listing;
rule AA read it as a look that did and named nothing.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort or
health-check answers, DescribeTargetHealth answers."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import health_looks, looks, window_on
from tests.replay.test_return_after_none_listed import _swap

PGBD, RBF = "pod-gone-before-deregistered", "registered-before-forwarding"


def test_a_refused_look_before_nothing_was_listed_still_names_the_return() -> None:
    # 18,000,127's swap (1.26, NodePort every 5 s) with one more look at 21.2 s, after p1 died
    # (finishedAt 21 s) and before the slice listed nothing (21.5 s): refused, the dead pod's
    # rules, which the empty slice's sync then took away before p2's listing at 24 s
    obs = _swap() + looks("n1", 21.2, 21.2, 5, lambda t: "refused")
    w = window_on(obs, "n1")
    assert w.cls == PGBD and RBF in w.also


def _health_swap(answers: dict[float, int]) -> list[Observation]:
    """18,000,127's swap (`_swap`: p1 terminating at 20 s, listed serving-terminating at
    20.05 s, seen stopped at 21.4 s, the slice empty from 21.5 s, p2 listed ready at 24 s; the LB
    polled every 10 s, healthy) with the health check every 0.5 s instead of the NodePort: it
    counts one local endpoint but where `answers` says otherwise (from that time to the next
    entry)."""
    changes = sorted(answers.items())

    def local(t: float) -> int:
        return next((n for since, n in reversed(changes) if t >= since), 1)

    kept = [o for o in _swap() if o.kind != "NodePortProbe"]
    return kept + health_looks("n1", [0.5 * k for k in range(1, 90)], local)


def test_a_503_before_nothing_was_listed_names_the_return() -> None:
    # 313's: 503 from 20.5 s (kube-proxy synced the terminating listing) to 24 s
    w = window_on(_health_swap({20.5: 0, 24.5: 1}), "n1")
    assert not w.certain
    assert w.cls == PGBD and RBF in w.also
