"""A lane stores only its changes: a run of bad looks is its first sample and, as the next
sample's `prev_us`, its last look. A run that began before the EndpointSlice showed the loss
and outlasted it saw the excursion (replay.unseen.bad_looks): its own steps bound the gap, and
no unseen one is assumed until the return plus kube-proxy's assumed lag. From literal
observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, facts_of, nodeport, one_node, pod, target


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _crash(probe_saw_it: bool) -> list[Observation]:
    """kube-proxy 1.25 (no ProxyTerminatingEndpoints, and too few changes to measure its lag:
    the 60 s assumption holds), NodePort looked at every second, stored as changes. The only
    pod p1 crashes at about 50.5 s: the NodePort refuses from the look at 51 s (before the
    EndpointSlice drops the endpoint at 51.5 s) until p2, ready at 61.8 s (slice at 62.2 s),
    answers at 63 s. The LB drains the node at 55 s and routes to it again at 90 s. Without
    `probe_saw_it` the probe lane never changes (a gap shorter than its looks)."""
    obs = [
        *one_node("v1.25.0"),
        nodeport(1, None, "n1", "connected"),
        pod(50.8, "p1", "n1", "gone"),
        eps(51.5, []),
        target(55, 54, "n1", "draining"),
        pod(61.8, "p2", "n1", "ready"),
        eps(62.2, [("p2", "n1", "ready")]),
        target(90, 89, "n1", "healthy"),
        nodeport(150, 149, "n1", "connected"),
        target(150, 149, "n1", "healthy"),
    ]
    if probe_saw_it:
        obs += [nodeport(51, 50, "n1", "refused"), nodeport(63, 62, "n1", "connected")]
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def test_a_bad_run_across_the_loss_saw_the_excursion() -> None:
    windows = _windows(_crash(probe_saw_it=True))
    # the seen gap, while the LB still routed: certain, bounded by the looks
    seen = [w for w in windows if w.start_earliest_us < _us(55)]
    assert [w.certain for w in seen] == [True]
    assert seen[0].end_latest_us <= _us(63)
    # every look from 63 s connected: nothing is possible when the LB routes again at 90 s
    assert not [w for w in windows if w.end_latest_us > _us(89)]


def test_an_excursion_no_look_saw_stays_possible_after_the_return() -> None:
    # the control: no bad look at all, so a gap shorter than a look's interval may follow
    # the return within kube-proxy's assumed lag, when the LB routes again
    windows = _windows(_crash(probe_saw_it=False))
    assert [w for w in windows if not w.certain and w.end_latest_us > _us(89)]
