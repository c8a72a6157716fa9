"""ProxyTerminatingEndpoints evidence weighed against kube-proxy's version and its lag
(replay.proxy._pte_evidence), from literal observations: Node objects with the kube-proxy
version in `status.nodeInfo`, EndpointSlices, NodePort probes and kube-proxy's health-check body
as the prober stores them."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.proxy import pte_known, pte_sure
from tests.replay.builders import _sample, eps, facts_of, health, node, nodeport, pod, service

SETTINGS = DetectSettings()  # no probe-measured lag here: the 60 s proxy_lag_max_s bound holds


def _terminating(version: str, name: str = "n1", pod_name: str = "p1") -> list[Observation]:
    """One pod on `name` from 1 s, serving-terminating from 20 s (SIGTERM, still serving)."""
    return [
        node(0, name, version=version),
        pod(1, pod_name, name, "ready"),
        pod(20, pod_name, name, "terminating", deleted_at=20),
    ]


def _slice(t: float, *pods: tuple[str, str, str]) -> Observation:
    return eps(t, list(pods))


def _answers(name: str, since: int, until: int) -> list[Observation]:
    """The NodePort on `name` connects every 5 s from `since` (the prober's first look) to
    `until` (s)."""
    return [nodeport(float(t), float(t - 5) if t > since else None, name, "connected")
            for t in range(since, until + 1, 5)]  # fmt: skip


def _state(obs: list[Observation]) -> FoldState:
    return fold(FoldState(), facts_of([service(0), *obs]))


def test_a_lagging_kube_proxy_1_24_is_not_pte() -> None:
    # kube-proxy 1.24 (the gate off unless enabled) is slow: its NodePort still answers 80 s
    # after the endpoint turned serving-terminating (the prober's first look, at 85 s), past the
    # 60 s bound. Nothing but that bound
    # says kube-proxy synced, so this is no proof of PTE on.
    obs = [*_terminating("v1.24.17"), _slice(1, ("p1", "n1", "ready")),
           _slice(20, ("p1", "n1", "terminating")), *_answers("n1", 85, 100)]  # fmt: skip
    state = _state(obs)
    assert pte_known(state, "c1", SETTINGS) is None
    assert not pte_sure(state, "c1", "n1", SETTINGS)


def test_kube_proxy_1_24_reporting_no_ready_endpoint_while_forwarding_is_pte() -> None:
    # The same node, but kube-proxy's health check answers 503 with localEndpoints 0 from 30 s
    # (it synced the termination) while the NodePort still connects: it forwards to a
    # terminating endpoint, so the gate was enabled.
    obs = [*_terminating("v1.24.17"), _slice(1, ("p1", "n1", "ready")),
           _slice(20, ("p1", "n1", "terminating")), health(10, None, "n1", 1),
           health(30, 25, "n1", 0), health(40, 35, "n1", 0), *_answers("n1", 5, 45)]  # fmt: skip
    state = _state(obs)
    assert pte_known(state, "c1", SETTINGS) is True
    assert pte_sure(state, "c1", "n1", SETTINGS)


def test_an_answer_while_kube_proxy_still_counts_the_endpoint_ready_is_no_evidence() -> None:
    # kube-proxy 1.26 (on by default, the gate could be off): the NodePort answers from 85 s
    # (the prober's first look), 65 s after the endpoint turned serving-terminating, but
    # kube-proxy's health check still reported one ready local endpoint at 95 s (stored as
    # changes: the 200 seen at 10 s holds): it had not synced (its lag, measured there, is past
    # the bound), so the answer is the old rules.
    # Without the health check the inference stands, agreeing with the version's default.
    base = [*_terminating("v1.26.15"), _slice(1, ("p1", "n1", "ready")),
            _slice(20, ("p1", "n1", "terminating")), *_answers("n1", 85, 100)]  # fmt: skip
    assert pte_known(_state(base), "c1", SETTINGS) is True
    lagging = [*base, health(10, None, "n1", 1), health(95, 90, "n1", 1)]
    assert pte_known(_state(lagging), "c1", SETTINGS) is None
    assert not pte_sure(_state(lagging), "c1", "n1", SETTINGS)


def test_a_ga_node_shows_nothing_about_the_gate_on_an_older_node() -> None:
    # n1 runs kube-proxy 1.29 (PTE GA, no gate) and forwards to its terminating endpoint while
    # reporting no ready one; n2 runs 1.24: n1's behaviour says nothing of n2's gate.
    obs = [*_terminating("v1.29.3"), node(0, "n2", version="v1.24.17"),
           pod(1, "p2", "n2", "ready"),
           _slice(1, ("p1", "n1", "ready"), ("p2", "n2", "ready")),
           _slice(20, ("p1", "n1", "terminating"), ("p2", "n2", "ready")),
           health(10, None, "n1", 1), health(30, 25, "n1", 0), *_answers("n1", 5, 45)]  # fmt: skip
    state = _state(obs)
    assert pte_sure(state, "c1", "n1", SETTINGS)
    assert not pte_sure(state, "c1", "n2", SETTINGS)


def test_a_restarted_kube_proxy_reporting_no_endpoint_beside_a_ready_one_is_not_pte() -> None:
    # kube-proxy 1.25 restarts at 50 s (its health port refuses), then answers 503 with
    # localEndpoints 0 until its first sync at 100 s, while the rules it left keep forwarding to
    # the ready pod (the NodePort connects throughout). The EndpointSlice says the endpoint is
    # ready: the 503 is stale, not kube-proxy forwarding to a terminating endpoint.
    refused = {"status": None, "body": None, "error": "refused", "port": 31805}
    obs = [node(0, "n1", version="v1.25.16"), pod(1, "p1", "n1", "ready"),
           _slice(1, ("p1", "n1", "ready")), health(5, None, "n1", 1),
           _sample(50, 49, "ProxyHealth", "kube-proxy-probe", "n1", refused),
           health(52, 51, "n1", 0), health(100, 99, "n1", 1),
           nodeport(5, None, "n1", "timeout"), *_answers("n1", 10, 100)]  # fmt: skip
    state = _state(obs)
    assert pte_known(state, "c1", SETTINGS) is None
    assert not pte_sure(state, "c1", "n1", SETTINGS)
