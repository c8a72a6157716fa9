"""A machine that is down answers nothing, whatever its kube-proxy was doing when it stopped.

kube-proxy restarting on a running node closes its health ports: the prober's connection is
refused (the node's kernel answers with a reset). Once the machine itself stops (a kernel panic,
a network cut), nothing answers: the look times out. The simulated prober asked only whether
kube-proxy was restarting, so a node that went down during a restart answered `refused` until
kube-proxy came back, and replay rightly read that as the node's own answer (random 16,000,715
node-001: kube-proxy restarted at 40.3 s, the node went down at 41.5 s, the health check's look at
42 s refused; the `node-not-ready` window was read `registered-before-forwarding`, certain)."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.timefmt import to_micros
from tests.replay.accuracy import replay_windows

SEED = 16000715


def _restart_then_down() -> dict[str, Any]:
    """Seed 16,000,715's world (kube-proxy 1.31, looks every 2 s, kube-proxy's /healthz
    probed too), node-001's kube-proxy restarting at 40.3 s (it takes seconds to come back) and
    the machine down at 41.5 s."""
    data = random_scenario(SEED)
    data["kube_proxy"]["restart_s"] = {"p50": 6.0, "p90": 8.0, "max": None}
    data["observe"]["kube_proxy_healthz"] = True
    data["events"] = [
        {"at_s": 40.3, "action": "restart_kube_proxy", "node": "node-001"},
        {"at_s": 41.5, "action": "node_down", "node": "node-001"},
    ]
    return data


def _looks(kind: str) -> list[tuple[float, Any]]:
    result = run(from_dict(_restart_then_down(), "restart then down"), seed=SEED)
    start = to_micros(result.observations[0].observed_at)
    return [
        ((to_micros(o.observed_at) - start) / 1e6, o.payload.get("error"))
        for o in result.observations
        if o.kind == kind and o.node == "node-001"
    ]


def test_the_service_health_check_of_a_down_node_times_out() -> None:
    looks = _looks("ProxyHealth")
    # the look at 40 s answered before the restart; every look after the machine stopped
    # (41.5 s) times out, none is refused
    after = [error for at, error in looks if 41.5 < at < 60]
    assert after and set(after) == {"timeout"}


def test_kube_proxys_own_healthz_of_a_down_node_times_out() -> None:
    looks = _looks("ProxyNodeHealth")
    assert [error for at, error in looks if 41.5 < at < 60][:1] == ["timeout"]
    assert all(error != "refused" for at, error in looks if at > 41.5)


def test_a_restart_on_a_running_node_still_refuses() -> None:
    data = _restart_then_down()
    data["events"] = data["events"][:1]  # the restart alone
    result = run(from_dict(data, "restart"), seed=SEED)
    start = to_micros(result.observations[0].observed_at)
    errors = [
        o.payload.get("error")
        for o in result.observations
        if o.kind == "ProxyHealth"
        and o.node == "node-001"
        and 40.3 < (to_micros(o.observed_at) - start) / 1e6 < 44
    ]
    assert "refused" in errors


def test_the_window_is_read_node_not_ready() -> None:
    result = run(from_dict(random_scenario(SEED), f"random scenario {SEED}"), seed=SEED)
    # the window the crash opened (from session 36 the run's upstream service controller keeps
    # the down node registered, and the LB's fail-open after node-002's pod crash at 279.6 s
    # opens a second one on it)
    (truth,) = [
        t
        for t in result.truth.windows
        if t.node == "node-001" and t.cls == "node-not-ready" and t.start_us == 41_500_000
    ]
    found = [w for w in replay_windows(result.observations) if w.node == "node-001"]
    start = to_micros(result.observations[0].observed_at) + 41_500_000
    (window,) = [w for w in found if w.start_earliest_us <= start + 1_000_000 <= w.end_latest_us]
    assert truth.cls == window.cls == "node-not-ready"
