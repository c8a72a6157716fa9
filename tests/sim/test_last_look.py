"""The simulator's prober stores a node's last look when it drops the node (its watch delivered
the deletion), as the recorder's prober does (recorder/sources/kubeproxy/tracker.py, `forget`):
the last grid instant whose look ended by then, with the answer last emitted and that look's
latency, bounded by the look before it. No new draw: a seed's truth and every other observation
stay what they were."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.sim.observe import Prober
from gapwatch.recorder.timefmt import to_micros
from tests.sim.test_deleted_node_probes import _deleted_late

KINDS = ("ProxyHealth", "NodePortProbe", "ProxyNodeHealth")


def _scenario(delay_s: float) -> dict[str, Any]:
    """The generated two-node cluster probed every 0.1 s (timeout 1 s), /healthz looked at
    too, node-001 deleted at 241.5 s, the watch delivering it `delay_s` late."""
    data = _deleted_late()
    data["observe"]["kube_proxy_healthz"] = True
    data["observe"]["watch_delay_s"] = {"p50": delay_s, "p90": delay_s * 1.1, "max": None}
    return data


def _looks(observations: list[Observation], node: str) -> dict[str, list[Observation]]:
    return {k: [o for o in observations if o.kind == k and o.node == node] for k in KINDS}


@pytest.mark.parametrize("delay_s", [2.0, 0.05])
def test_a_dropped_nodes_last_look_is_emitted(delay_s: float) -> None:
    data = _scenario(delay_s)
    result = run(from_dict(data, "deleted"), seed=448)
    (deleted,) = [o for o in result.observations if o.kind == "Node" and o.op == "DELETED"]
    seen = to_micros(deleted.observed_at)
    period = int(data["observe"]["kube_proxy_period_s"] * 1e6)
    answers = set()
    for kind, rows in _looks(result.observations, "node-001").items():
        last = rows[-1]
        assert last.payload["look"] == "last", kind
        assert [r for r in rows if r.payload.get("look") == "last"] == [last]
        before = rows[-2]
        # the answer last emitted, its latency; the look taken on the grid, ended by `seen`
        assert {k: v for k, v in last.payload.items() if k not in ("look", "body")} == {
            k: v for k, v in before.payload.items() if k != "body"
        }
        # bounded by the grid's look before it
        assert last.previous_observed_at is not None
        at = to_micros(last.previous_observed_at) + period
        assert at % period == 0
        took = to_micros(last.observed_at) - at
        if "latency_ms" in last.payload:  # ProxyHealth is stored at its own answer's end
            assert took == round(last.payload["latency_ms"] * 1000)
        assert took > 0 and at + took <= seen < at + period + took
        assert to_micros(before.observed_at) < to_micros(last.observed_at)
        answers.add(last.payload.get("status") or last.payload.get("result"))
    # watched 2 s late, the machine was gone: timeouts; 50 ms late, it still answered
    assert answers == ({None, "timeout"} if delay_s > 1 else {200, "connected"})


def _without_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Prober, "_last_looks", lambda self, node: None)
    monkeypatch.setattr("gapwatch.recorder.sim.healthz.last_tick", lambda *_: -1)


@pytest.mark.parametrize("case", ["deleted late", "17,000,089"])
def test_the_last_looks_draw_nothing(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same truth and, but for the last looks, the same observations as a run that emits
    none: emitting them takes no draw from the run's generator."""
    if case == "deleted late":
        data, seed = _scenario(2.0), 448
    else:
        data, seed = random_scenario(17_000_089), 17_000_089

    def both() -> tuple[Any, list[Observation]]:
        result = run(from_dict(data, case), seed=seed)
        return result.truth.windows, result.observations

    truth, observations = both()
    _without_last(monkeypatch)
    truth_before, before = both()
    assert truth == truth_before
    lasts = [o for o in observations if o.payload.get("look") == "last"]
    assert lasts and [o for o in observations if o not in lasts] == before


def test_a_last_healthz_look_reads_the_syncs_kube_proxy_left_behind() -> None:
    """A node's /healthz last look may be emitted after its kube-proxy stopped (the machine
    deleted, the prober's watch later): the last rules sync as of that look comes from the syncs
    kept after the stop, as KubeProxies.last_sync gave it while kube-proxy ran."""
    from gapwatch.recorder.sim.world import World

    w = World(from_dict(_scenario(2.0), "deleted"), seed=448)
    w.bootstrap()
    w.loop.run_until(200_000_000)
    healthz = w.prober.healthz
    assert healthz is not None
    healthz.sample("node-001", w.loop.now, full=True)
    looks = [w.loop.now, w.loop.now + 5_000_000]
    running = [w.proxy.last_sync("node-001", t) for t in looks]
    assert running[-1] is not None
    w.proxy.stop("node-001")
    assert w.proxy.last_sync("node-001", w.loop.now) is None  # its state is gone
    assert [healthz._last_sync("node-001", t) for t in looks] == running
