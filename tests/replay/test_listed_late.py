"""What the Pod stream has not shown is not a pod that is down (F inferred, no probes).

- A Pod list that ends after the EndpointSlices' by more than list_s: the recorder lists each
  kind on its own stream, so in a large cluster the Pods arrive seconds after the slices. A pod
  the slices' initial list named ready was up at that listing (the EndpointSlice controller
  lists an endpoint ready only while its Pod is Ready), however late its own listing came: read
  as a pod that came up when its Pod was listed, every node was surely serving nothing before
  it, a certain window at the start of 49 + 54 development runs without probes.
- A recording without Pod objects (a recorder not allowed to watch them, an import of slices
  and LB data only): every node read as surely serving nothing, one certain window per node
  for the whole recording.

(replay.unseen.with_listing, replay.lanes._inferred_serves.) Literal observations; times in
seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import at, eps, node, pod, service, target, windows_of


def _s(us: int) -> float:
    return (us - to_micros(at(0))) / 1e6


def _listed(pod_listed_at: float | None, state: str = "ready") -> list[Observation]:
    """n1 with one pod p1, listed ready by the slices at 0.1 s and registered healthy; the
    Pod stream lists p1 (`state`) at `pod_listed_at` (None: no Pod object at all); the LB
    seen healthy every 10 s to 30 s."""
    listed = [] if pod_listed_at is None else [pod(pod_listed_at, "p1", "n1", state)]
    return [
        service(0),
        node(0, "n1"),
        eps(0.1, [("p1", "n1", "ready")]),
        target(0, None, "n1", "healthy", "ADDED"),
        *listed,
        *(target(t, t - 10, "n1", "healthy") for t in (10, 20, 30)),
    ]


def test_a_pod_listed_late_was_up_when_the_slices_listed_it() -> None:
    assert windows_of(_listed(0.5)) == []  # within list_s: its first state held before
    assert windows_of(_listed(1.6)) == []  # past it: was a certain window from 0 to 1.6 s
    assert windows_of(_listed(8.0)) == []


def test_a_pod_listed_late_and_gone_died_after_the_slices_listed_it() -> None:
    # ready in the slices' list at 0.1 s, gone in its own at 8 s: it died in between, within
    # pod_status_s (3 s) of the update that says so; the window was certain from 0 s
    (window,) = windows_of(_listed(8.0, "gone"))
    assert window.cls == PGBD and window.certain
    assert (_s(window.start_earliest_us), _s(window.start_latest_us)) == (5.0, 8.0)


def test_no_pod_objects_is_no_proof_that_nothing_serves() -> None:
    assert windows_of(_listed(None)) == []  # was one certain window from 0 to 30 s
