"""kube-proxy's close and reopening between two looks, the reopening a ready endpoint's listing
(docs/semantics.md, "Classes on the seventeenth spent set"): the close may have landed after
that listing, leaving the listed endpoint unprogrammed, so a window read as a pod's death names
`registered-before-forwarding` beside `closed-before-deregistered`.

The window is the simulator's (random 30,000,393 node-004, a spent seed: kube-proxy 1.25
without ProxyTerminatingEndpoints, the NodePort and the LB looked at every 2 s): the old pod's
endpoint turned serving-terminating at 174.95 s and its replacement's was listed ready at
176.44 s; kube-proxy synced the first version at 176.63 s, after that listing, and the second
at 177.47 s, both between the looks at 176 s and 178 s (truth: `registered-before-forwarding`
for those 0.84 s). The literal cases check the predicate's instant."""

from __future__ import annotations

from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.signals import Step
from gapwatch.replay.undecided import unseen_reopening
from tests.replay.accuracy import replay_windows

PGBD, CBD, RBF = (
    "pod-gone-before-deregistered",
    "closed-before-deregistered",
    "registered-before-forwarding",
)


def test_a_close_and_reopening_no_look_saw_names_the_unprogrammed_listing() -> None:
    seed = 30_000_393
    result = run(from_dict(random_scenario(seed)), seed=seed)
    (truth,) = [t for t in result.truth.windows if t.node == "node-004" and t.cls == RBF]
    windows = [
        w
        for w in replay_windows(result.observations)
        if w.node == "node-004"
        and w.start_earliest_us <= to_micros(parse_time(truth.start))
        and w.end_latest_us >= to_micros(parse_time(truth.end))
    ]
    (w,) = windows
    assert not w.certain
    # read as the old pod's death (kube-proxy may have kept its rules), the close named: as
    # before; the listing the close may have followed, named now
    assert w.cls == PGBD
    assert CBD in w.also and RBF in w.also


def _step(seconds: float, value: bool, n: int) -> Step:
    return Step(int(seconds * 1e6), int(seconds * 1e6), value, n)


def test_the_return_of_an_unseen_close() -> None:
    forwardable = [_step(1, True, 0), _step(99.1, False, 1), _step(100.1, True, 2)]
    since, until, skew = int(99.1e6), int(160e6), int(0.5e6)
    # no look between the loss and the return: the return's instant
    assert unseen_reopening(forwardable, [int(90e6), int(120e6)], since, until, skew) == int(
        100.1e6
    )
    # a look between them saw what kube-proxy held: no unseen close
    assert unseen_reopening(forwardable, [int(90e6), int(99.5e6)], since, until, skew) is None
    # the endpoints never came back
    assert unseen_reopening(forwardable[:2], [int(90e6)], since, until, skew) is None
