"""A certain window the LB's return opened, read as a dead pod's rules, names the class after
those rules went where the NodePort's change from refused to no answer lies across the return
(docs/semantics.md, "The tenth spent set read"; naming only).

Random 23,000,267 node-003's shape (with NodePort probes): kube-proxy 1.29, an endpoint-driven
CCM polled every 2 s, the NodePort probed every 5 s. The old pod terminates and dies, the slice
drops it and lists the replacement ready; the LB drains the node and takes it back. The
NodePort was refused (the dead pod's rules) 3.5 s before the poll that saw the node routed
again and timed out (no rules) 1.5 s after it; kube-proxy programmed the replacement 30 s
later. The truth: the rules went before the LB's return, `registered-before-forwarding`. The
window is certain (the LB surely routed from that poll, kube-proxy surely forwarded to no live
pod), and the rule that names the other order of the LB's rise and the rules' removal read
only unproven windows.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (the group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import looks, polled, replaced_on_n1, window_on
from tests.replay.test_gate_per_node import configz

PGBD, RBF = "pod-gone-before-deregistered", "registered-before-forwarding"


def _return(timed_out: float) -> list[Observation]:
    """n1 on 1.29: p1 terminating at 10 s (listed serving-terminating at 10.1 s), seen stopped
    at 15.9 s (finishedAt 15 s), the slice without it from 16 s; p2 Ready at 18.7 s and listed
    ready at 18.9 s. The LB polled every 2 s: healthy to 10 s, draining from 12 s to 20 s,
    healthy from 22 s. The NodePort every 5 s from 3.5 s: connected to 13.5 s, refused from
    18.5 s, no answer from `timed_out`, connected from 53.5 s."""

    def result(t: float) -> str:
        if t < 18 or t >= 53:
            return "connected"
        return "refused" if t < timed_out else "timeout"

    return [
        # the seed's other nodes kept ready endpoints: the Service was never without one, so
        # the refusal is no REJECT (replay.rejected) and the timeout a DROP
        *replaced_on_n1(10.0, 10.1, 10.2, 15.9, 15, 16.0, 18.7, 18.9, elsewhere=True),
        *polled(
            "n1",
            [2.0 * k for k in range(0, 40)],
            lambda t: "draining" if 12 <= t <= 20 else "healthy",
            check_port=32999,
        ),
        *looks("n1", 3.5, 80, 5, result),
    ]


def test_rules_gone_across_the_return_name_the_class_after_them() -> None:
    # refused at 18.5 s, no answer at 23.5 s: the rules may have gone before the return in
    # (20, 22]
    w = window_on(_return(timed_out=23), "n1")
    assert w.certain
    assert w.cls == PGBD and RBF in w.also


def test_rules_still_there_after_the_return_do_not() -> None:
    # refused at 23.5 s and 28.5 s too: the return met the dead pod's rules, where n1's
    # /configz states iptables (an IPVS kube-proxy before kubernetes#97081 would have refused
    # with p2 listed and not programmed too: with no mode stated that reading is named,
    # replay.modeshape)
    w = window_on([configz(0.5, "n1", {}, "iptables"), *_return(timed_out=33)], "n1")
    assert RBF not in w.also
