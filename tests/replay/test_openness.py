"""Why a possible window is only possible, and what would have decided it (replay.openness),
on literal observations of the two shapes most possible windows take: a change no look fell
inside (kube-proxy's side open) and a change between two polls (the LB's side open)."""

from __future__ import annotations

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from gapwatch.replay.openness import SIDES, Openness, openness

from .builders import (
    eps,
    facts_of,
    looks,
    node,
    one_node,
    pod,
    service,
    target,
    unseen_excursion,
    windows_of,
)


def _read(obs: list[Observation], settings: DetectSettings = DEFAULTS) -> dict[Window, Openness]:
    state = fold(FoldState(), facts_of(sorted(obs, key=lambda o: o.observed_at)))
    return openness(state, windows_of(obs, settings), settings)


@pytest.mark.parametrize("last_look", [None, 59.0])
def test_an_excursion_no_look_saw_leaves_kube_proxy_open(last_look: float | None) -> None:
    # The NodePort connected at 1 s and at 60 s; the node had no ready endpoint from 30 to
    # 32 s; the LB saw the target healthy throughout: whether kube-proxy closed in between is
    # open. Looked at only at 1 s and 60 s (59 s apart), a look every window-width would have
    # put one inside it; looked at every second (the 60 s sample names its look at 59 s),
    # looks already fell inside it and no denser sampling is named.
    obs = unseen_excursion(last_look)
    ((w, why),) = _read(obs, DetectSettings(proxy_lag_max_s=2.0)).items()
    assert not w.certain
    assert why.side == "kube-proxy" and why.why == SIDES["kube-proxy"]
    assert why.kube_proxy.startswith("no NodePort probe look saw a change")
    period = 59.0 if last_look is None else 1.0
    assert f"up to {period:.1f} s apart" in why.kube_proxy
    width = (w.end_latest_us - w.start_earliest_us) / 1e6
    assert why.width_s == width
    if last_look is None:
        # the LB surely routed: no poll is named
        assert [kind for kind, _text in why.decide] == ["probe"]
        assert f"every {width:.1f} s or less (now up to 59.0 s)" in why.decide[0][1]
    else:
        assert width > period and why.decide == ()


def _drained(check_port: int) -> list[Observation]:
    """The last endpoint leaves at 19.5 s and the NodePort, looked at every second, refuses
    from 20 s; the target was healthy at 15 s and draining at 25 s (polls 10 s apart)."""
    return [
        service(0),
        node(0, "n1", version="v1.29.0"),
        pod(0.5, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED", check_port=check_port),
        *looks("n1", 1, 40, 1, lambda t: "connected" if t < 20 else "refused"),
        eps(19.5, []),
        target(15, 1, "n1", "healthy", "OBSERVED", check_port=check_port),
        target(25, 15, "n1", "draining", check_port=check_port),
        target(35, 25, "n1", "draining", "OBSERVED", check_port=check_port),
    ]


def test_a_deregistration_between_two_polls_leaves_the_lb_open() -> None:
    # An endpoint-driven LB (the group checks the traffic port, 32999): kube-proxy surely
    # closed at 20 s; whether the LB still routed until 25 s is open: polls every window-width
    # would have put one inside it; no kube-proxy look is named (its side is sure).
    ((w, why),) = _read(_drained(check_port=32999)).items()
    assert not w.certain
    assert why.side == "lb"
    assert why.kube_proxy == "kube-proxy's change (NodePort probe) lies between looks 1.0 s apart"
    assert why.lb == "the LB's change lies between polls 10.0 s apart"
    assert [kind for kind, _text in why.decide] == ["poll"]
    assert f"every {why.width_s:.1f} s or less (now up to 14.0 s)" in why.decide[0][1]


def test_a_proven_window_has_no_openness() -> None:
    # p1 goes away at 10 s and the NodePort refuses from then on, seen every second; the LB
    # polls it healthy every second until 20 s: a proven window, nothing open.
    obs = [
        *one_node(),
        *looks("n1", 2, 30, 1, lambda t: "connected" if t < 10 else "refused"),
        eps(9.5, []),
        *[target(t, t - 1, "n1", "healthy", "OBSERVED") for t in range(2, 20)],
        target(20, 19, "n1", "unhealthy"),
    ]
    found = windows_of(obs)
    assert found and all(w.certain for w in found)
    assert _read(obs) == {}
