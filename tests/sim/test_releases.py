"""The randomized generator draws the releases upstream supported as of the newest public sample
(1.33-1.35, 2026-03-13) and 1.30 and 1.32 beside the older ones (recorder.sim.generate
`_release`, session 35; before, the draw stopped at 1.31 and skipped 1.30), each with the
behaviour its release has where the simulator models one: the ProxyTerminatingEndpoints
fallback always on (GA 1.28), the health check reading kube-proxy's health (1.27+), KEP-3836's
/healthz (on from 1.30), the node controller's 50 s grace (1.32+)."""

from __future__ import annotations

from collections import Counter

import pytest

from gapwatch.recorder.sim import from_dict, generate
from gapwatch.recorder.sim.generate import PTE_GA_VERSIONS, random_scenario, with_mixed_proxy
from gapwatch.recorder.sim.nodegrace import default_grace_s
from gapwatch.recorder.sim.proxyhealth import kube_proxy_minor, service_check_reads_health
from gapwatch.recorder.sim.validate import minor_version


def test_the_draw_holds_the_releases_supported_as_of_the_samples() -> None:
    drawn = Counter(random_scenario(seed)["nodes"]["kube_proxy_version"] for seed in range(1, 801))
    minors = {minor_version(v) for v in drawn}
    assert minors == set(range(24, 36))
    for version in PTE_GA_VERSIONS:
        assert 20 <= drawn[version] <= 80, (version, drawn[version])  # about 1/8 of 3/7 each


def test_each_release_comes_with_its_behaviour() -> None:
    for seed in range(1, 401):
        data = random_scenario(seed)
        scenario = from_dict(data, f"random {seed}")
        minor = kube_proxy_minor(scenario)
        assert scenario.nodes.kubelet_version == scenario.nodes.kube_proxy_version
        if minor >= 28:
            assert scenario.kube_proxy.proxy_terminating_endpoints
        assert service_check_reads_health(scenario) == (minor >= 27)
        assert data["nodes"]["not_ready_after_s"] == default_grace_s(f"v1.{minor}.0")
        assert (data["nodes"]["not_ready_after_s"] == 50.0) == (minor >= 32)


def test_only_the_release_moves_within_pte_ga(monkeypatch: pytest.MonkeyPatch) -> None:
    """A base draw before 1.28 is kept; one of 1.28 or later moves among 1.28-1.35 and nothing
    else of the seed does (the PTE draw and the mixed-proxy draws do not look at which): each
    seed's scenario equals the one drawn without `_release` but for the release and its grace."""
    ours = {seed: with_mixed_proxy(random_scenario(seed), seed) for seed in range(1, 201)}
    monkeypatch.setattr(generate, "_release", lambda seed, drawn: drawn)
    moved = 0
    for seed, data in ours.items():
        before = with_mixed_proxy(random_scenario(seed), seed)
        old, new = before["nodes"]["kube_proxy_version"], data["nodes"]["kube_proxy_version"]
        if (minor_version(old) or 0) < 28:
            assert new == old
        else:
            assert new in PTE_GA_VERSIONS
        moved += new != old
        for d in (before, data):
            for key in ("kubelet_version", "kube_proxy_version", "not_ready_after_s"):
                del d["nodes"][key]
        assert data == before, seed
    assert 40 < moved < 120
