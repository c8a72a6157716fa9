"""A replacement pod is not read as forwarded to before an EndpointSlice listed it ready:
kube-proxy programs only what the slices list, so the pods-up lane (replay.podsup, F read from
the health check) counts a pod that came up during the recording as surely forwarded no sooner
than kube-proxy's lag bound after its first listing as ready, besides its Ready plus the slice
controller's and kube-proxy's lag. Shaped like random 21,000,801 node-004 (the eighth spent
set read, `--without-nodeport`: the EndpointSlice controller 80 s behind, the dead pod's
endpoint still listed ready and counted by the health check while its replacement, Ready, was
not listed; the window read ended at the replacement's Ready plus the lags, and the 82 s
`pod-gone-before-deregistered` window was missed).

Literal observations: kube-proxy 1.29, no NodePort probe, a node-driven LB polled every 5 s
(routing to n1 throughout), the health check every 2 s counting one ready local endpoint
throughout. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay import builders as b


def _late_listing(listed: float) -> Window:
    """p1 on n1 is ready from 0.5 s, deleted at 10 s, its container stopped at 11 s (seen
    gone at 11.3 s); the EndpointSlice controller, behind, still lists p1 ready until one write
    at `listed` lists its replacement p2 (Ready at 13 s) in its place."""
    obs: list[Observation] = b.unlisted_swap(10, 11, 10.5, 13, listed)
    prev: float | None = None
    for t in range(1, 300, 5):
        obs.append(b.target(t, prev, "n1", "healthy", "ADDED" if prev is None else "MODIFIED"))
        prev = t
    prev = None
    for t in range(1, 300, 2):
        obs.append(b.health(t, prev, "n1", 1))
        prev = t
    (window,) = [w for w in b.windows_of(obs) if w.node == "n1"]
    return window


def test_a_replacement_not_listed_is_not_forwarded_to() -> None:
    # listed at 83 s: kube-proxy could not forward to p2 before then, whatever its Ready says;
    # the gap from p1's death may last until kube-proxy's lag bound after the listing
    window = _late_listing(83.0)
    assert window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(b.at(11)) <= window.start_latest_us
    assert window.end_latest_us >= to_micros(b.at(83))


def test_a_replacement_listed_at_once_reads_as_before() -> None:
    # listed 0.5 s after its Ready: the Ready plus the lags (the slice controller's assumed
    # 1 s) bound kube-proxy's programming, as before the listing was read
    early = _late_listing(13.5)
    assert early.certain and early.cls == PGBD
    assert early.end_latest_us <= to_micros(b.at(13 + 61))
