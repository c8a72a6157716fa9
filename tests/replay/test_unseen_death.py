"""A local pod seen dead before the EndpointSlice shows its node without an endpoint: the gap
no probe saw opens at the death, not at the slice's change (replay.unseen.dead_before), from
literal observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, facts_of, node, nodeport, pod, service, target


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _crash(gone_seen: float) -> list[Observation]:
    """kube-proxy 1.25 (no ProxyTerminatingEndpoints), NodePort probed every 5 s, each look
    stored. The only pod p1 crashes at 101.5 s (its Pod update says so at `gone_seen`); the
    EndpointSlice shows the node without a ready endpoint only at 104 s (the controller was
    slow) and the replacement p2 ready at 104.5 s, programmed before the look at 105 s."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(gone_seen, "p1", "n1", "gone"),
        eps(104, []),
        pod(104.2, "p2", "n1", "ready"),
        eps(104.5, [("p2", "n1", "ready")]),
    ]
    obs += [nodeport(float(t), float(t - 5) if t > 5 else None, "n1", "connected")
            for t in range(5, 121, 5)]  # fmt: skip
    obs.append(target(120, 115, "n1", "healthy"))
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def test_a_death_seen_before_the_slice_opens_the_unseen_gap_at_the_death() -> None:
    (window,) = _windows(_crash(gone_seen=102.0))
    assert not window.certain
    # the gap (101.5 s until p2 was programmed) lies inside the bounds: it opened at the
    # death, less than a probe period (5 s, plus the 0.5 s watch skew) before the return
    # (104.5 s), not at the slice's change (104 s)
    assert _us(98.5) <= window.start_earliest_us <= _us(101.5)
    assert window.end_latest_us >= _us(105)
    assert window.cls == "pod-gone-before-deregistered"


def test_a_death_seen_after_the_slice_leaves_the_gap_at_the_slice() -> None:
    # the same, the Pod update saying p1 stopped seen after the slice's change: nothing says
    # the pod stopped before the EndpointSlice controller removed it (kube-proxy's watch may
    # have delivered that change up to the watch skew, 0.5 s, before the recorder's)
    (window,) = _windows(_crash(gone_seen=106.0))
    assert window.start_earliest_us == _us(103.5)
