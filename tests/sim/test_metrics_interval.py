"""The simulated prober scrapes kube-proxy's /metrics every `observe.kube_proxy_metrics_interval_s`
(the recorder's `metrics_interval_s`: deploy/'s node agent scrapes every 15 s) instead of on the
probe grid (recorder.sim.evidence `metrics_period_us`), so accuracy can be measured for the
interval the product ships."""

from __future__ import annotations

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sim import from_dict
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.sim.result import Simulation


def _scrape_offsets(seed: int, interval_s: float) -> list[int]:
    """When each scrape of the run looked (us since its start: stamp less the answer's latency)."""
    data = random_scenario(seed)
    data["observe"]["kube_proxy_period_s"] = 1.0
    data["observe"]["kube_proxy_metrics"] = True
    data["observe"]["kube_proxy_metrics_interval_s"] = interval_s
    sim = Simulation(from_dict(data), seed)
    observations = list(sim)
    assert sim.world is not None
    start = sim.world.clock.dt(0)
    out = []
    for o in observations:
        if o.kind != "ProxyMetrics":
            continue
        stamp = round((o.observed_at - start).total_seconds() * 1e6)
        out.append(stamp - us(o.payload["latency_ms"] / 1000.0))
    return out


def test_scrapes_keep_to_the_interval() -> None:
    every_15 = _scrape_offsets(5, 15.0)
    on_grid = _scrape_offsets(5, 0.0)
    assert every_15 and on_grid
    # the look before a change and the one showing it are one interval apart, on its grid
    # (the heartbeat's looks, every 60 s, fall on it too)
    assert all(t % us(15.0) == 0 for t in every_15)
    assert any(t % us(15.0) for t in on_grid)  # the probe grid: 1 s


def test_a_negative_interval_is_refused() -> None:
    data = random_scenario(5)
    data["observe"]["kube_proxy_metrics_interval_s"] = -1
    with pytest.raises(ConfigError, match=r"observe\.kube_proxy_metrics_interval_s: must be >= 0"):
        from_dict(data)
