"""Without ProxyTerminatingEndpoints, a ready-set excursion no NodePort look saw ends by the
health check's first 200 after a 503 (kube-proxy synced the loss, then a ready local endpoint
again: replay.unseen._synced_back), not at the return plus kube-proxy's assumed lag. From
literal observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, facts_of, health, nodeport, one_node, pod, target


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _rollout(health_saw_it: bool) -> list[Observation]:
    """kube-proxy 1.25 (no ProxyTerminatingEndpoints; too few changes to measure its lag, so
    the 60 s assumption holds). The only ready pod p1 starts terminating at 50 s, p2 is ready
    at 52.1 s; the NodePort connects at every look (each second), the LB routes throughout.
    With `health_saw_it` the health check answers 503 (no ready local endpoint) at 53 s and
    200 at 54 s: kube-proxy synced the loss, then the return."""
    obs = [
        *one_node("v1.25.0"),
        pod(50, "p1", "n1", "terminating"),
        eps(50, [("p1", "n1", "terminating")]),
        pod(52, "p2", "n1", "ready"),
        eps(52.1, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        target(150, 149, "n1", "healthy"),
    ]
    for t in range(1, 151):
        prev = float(t - 1) if t > 1 else None
        obs.append(nodeport(float(t), prev, "n1", "connected"))
        obs.append(health(float(t), prev, "n1", 0 if health_saw_it and t == 53 else 1))
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def test_the_health_checks_return_ends_the_unseen_gap() -> None:
    windows = _windows(_rollout(health_saw_it=True))
    assert windows and not any(w.certain for w in windows)
    # the gap lies between the loss and the 200 at 54 s, not up to 52.1 + 60 s
    assert max(w.end_latest_us for w in windows) <= _us(54)
    assert min(w.start_earliest_us for w in windows) >= _us(50)


def test_without_the_health_checks_word_the_assumed_lag_holds() -> None:
    # the control: the health check never saw the loss synced, so kube-proxy may have
    # synced it (and the return) unseen at any time within its assumed lag
    windows = _windows(_rollout(health_saw_it=False))
    assert max(w.end_latest_us for w in windows) > _us(100)
