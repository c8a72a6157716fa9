"""kube-proxy's own health in the simulator, against upstream's documented rule
(pkg/proxy/healthcheck/proxier_health.go; kubernetes/kubernetes#83498, #111661, #118146):

- `QueuedUpdate()` keeps the OLDEST change received since the last sync, `Updated()` clears it;
  unhealthy once that change is `healthTimeout` old (`currentTime.Sub(oldest) < healthTimeout`
  is healthy), whatever the age of the last sync;
- `healthTimeout` = 2 x syncPeriod (cmd/kube-proxy/app/server.go), syncPeriod 30 s by default;
- /healthz answers 503 then, with `lastUpdated` the last sync; from v1.27 the healthCheckNodePort
  too, counting its local endpoints, with `serviceProxyHealthy: false` (before v1.27 the body has
  no such field and only the local endpoints decide);
- from v1.29 a proxier that never synced since start is not looked at.
"""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.recorder.gotime import read_go_time
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import Simulation, load_scenario
from gapwatch.recorder.sim.proxyhealth import (
    health_timeout_us,
    ignores_never_synced,
    proxier_healthy,
    service_check_reads_health,
)
from gapwatch.recorder.timefmt import to_micros

S = 1_000_000
TIMEOUT = 60 * S  # 2 x the default 30 s sync period
LAG_S = 90.0  # every change programmed 90 s after kube-proxy received it: 30 s past the timeout


def test_the_health_timeout_is_twice_the_sync_period() -> None:
    assert health_timeout_us(30.0) == TIMEOUT
    assert health_timeout_us(1.5) == 3 * S


@pytest.mark.parametrize(
    ("oldest", "now", "healthy"),
    [
        (None, 10 * 3600 * S, True),  # nothing queued: healthy, however old the last sync
        (100 * S, 100 * S, True),  # just queued
        (100 * S, 100 * S + TIMEOUT - 1, True),  # queued, not late yet
        (100 * S, 100 * S + TIMEOUT, False),  # `< healthTimeout` is healthy: at it, not
        (100 * S, 100 * S + 2 * TIMEOUT, False),
    ],
)
def test_unhealthy_once_the_oldest_queued_change_is_a_timeout_old(
    oldest: int | None, now: int, healthy: bool
) -> None:
    for per_family in (False, True):
        got = proxier_healthy(oldest, now, TIMEOUT, synced_since_start=True, per_family=per_family)
        assert got is healthy


def test_a_proxier_that_never_synced_is_ignored_only_from_1_29() -> None:
    late = 10 * TIMEOUT
    assert proxier_healthy(0, late, TIMEOUT, synced_since_start=False, per_family=True)
    assert not proxier_healthy(0, late, TIMEOUT, synced_since_start=False, per_family=False)


@pytest.mark.parametrize(
    ("version", "service_check", "never_synced_ignored"),
    [("v1.26.15", False, False), ("v1.27.16", True, False), ("v1.28.15", True, False),
     ("v1.29.10", True, True), ("v1.31.2", True, True)],
)  # fmt: skip
def test_which_release_reads_what(
    version: str, service_check: bool, never_synced_ignored: bool
) -> None:
    versions = {"nodes.kubelet_version": version, "nodes.kube_proxy_version": version}
    scenario = load_scenario("mitigated", versions)  # PTE on: always so from 1.28
    assert service_check_reads_health(scenario) is service_check
    assert ignores_never_synced(scenario) is never_synced_ignored


def _run(version: str, **changes: Any) -> tuple[list[Observation], Simulation]:
    overrides: dict[str, Any] = {
        "nodes.kubelet_version": version,
        "nodes.kube_proxy_version": version,
        "kube_proxy.lag_s": LAG_S,
        "observe.kube_proxy_healthz": True,
        "traffic.rps": 0,
        **changes,
    }
    sim = Simulation(load_scenario("seed-3node", overrides), 1)
    return list(sim), sim


def _looks(obs: list[Observation], sim: Simulation, kind: str) -> list[tuple[str, int, Any]]:
    """(node, when the prober looked on the simulation's clock, payload): a period after the
    previous look (`previous_observed_at`; the very first looks, at the start, have none)."""
    assert sim.world is not None
    start = to_micros(sim.world.clock.start)
    period = round(sim.world.s.observe.kube_proxy_period_s * S)
    out = []
    for o in obs:
        if o.kind == kind and o.payload["status"] is not None and o.previous_observed_at:
            at = to_micros(o.previous_observed_at) - start + period
            out.append((o.node or "", at, o.payload))
    return out


def _oldest_pending(sim: Simulation, node: str, at: int) -> int | None:
    """The oldest change kube-proxy on `node` received and had not programmed at `at`: with a
    constant lag every change is programmed LAG_S after it came, in order."""
    assert sim.world is not None
    queued = sim.world.proxy.queued_us.get(node, [])
    pending = [q for q in queued if q < at < q + round(LAG_S * S)]
    return min(pending) if pending else None


def _behind(sim: Simulation, node: str, at: int) -> bool:
    oldest = _oldest_pending(sim, node, at)
    return oldest is not None and at - oldest >= TIMEOUT


def test_a_kube_proxy_behind_answers_503_on_both_ports_from_1_27() -> None:
    obs, sim = _run("v1.27.16")
    service = _looks(obs, sim, "ProxyHealth")
    behind = [(n, at, p) for n, at, p in service if p["body"]["serviceProxyHealthy"] is False]
    assert behind, "a change 90 s in programming must make kube-proxy unhealthy"
    for node, at, payload in service:
        body = payload["body"]
        assert body["serviceProxyHealthy"] is not _behind(sim, node, at)
        expected = 200 if body["localEndpoints"] > 0 and body["serviceProxyHealthy"] else 503
        assert payload["status"] == expected
    # it still counts the endpoints of its last sync: a 503 with local endpoints
    assert any(p["status"] == 503 and p["body"]["localEndpoints"] > 0 for _n, _a, p in behind)
    assert sim.world is not None
    for node, at, payload in _looks(obs, sim, "ProxyNodeHealth"):
        assert "nodeEligible" not in payload["body"]  # KEP-3836 is off before 1.30
        assert (payload["status"] == 503) is _behind(sim, node, at)
        if payload["status"] == 503:  # lastUpdated: the last sync before the answer
            last = read_go_time(payload["body"]["lastUpdated"]).us
            assert last is not None
            syncs = [t for t in sim.world.proxy.synced_us[node] if t <= at]
            assert last - to_micros(sim.world.clock.start) == max(syncs)


def test_before_1_27_the_health_check_counts_only_local_endpoints() -> None:
    obs, sim = _run("v1.26.15")
    service = _looks(obs, sim, "ProxyHealth")
    assert service
    for _node, _at, payload in service:
        assert "serviceProxyHealthy" not in payload["body"]
        assert (payload["status"] == 200) is (payload["body"]["localEndpoints"] > 0)
    healthz = _looks(obs, sim, "ProxyNodeHealth")
    assert any(p["status"] == 503 for _n, _a, p in healthz)  # /healthz says it all along
    for node, at, payload in healthz:
        assert (payload["status"] == 503) is _behind(sim, node, at)


def test_modelling_the_health_moves_no_other_draw() -> None:
    """With an LB that does not health-check (endpoint-driven CCM), kube-proxy's health changes
    only the prober's health looks: every other observation and every true window stays as it
    is with a health timeout that never runs out."""
    lag = {"kube_proxy.lag_s": {"p50": 60.0, "p90": 150.0, "max": None}}
    obs, sim = _run("v1.27.16", **lag)
    never, sim_never = _run("v1.27.16", **lag, **{"kube_proxy.sync_period_s": 1e7})
    kinds = ("ProxyHealth", "ProxyNodeHealth")
    service = _looks(obs, sim, "ProxyHealth")
    assert any(p["body"]["serviceProxyHealthy"] is False for _n, _a, p in service)
    assert all(p["body"]["serviceProxyHealthy"] for _n, _a, p in _looks(never, sim_never, kinds[0]))
    assert [o for o in obs if o.kind not in kinds] == [o for o in never if o.kind not in kinds]
    assert sim.truth is not None and sim_never.truth is not None
    assert sim.truth.windows == sim_never.truth.windows
