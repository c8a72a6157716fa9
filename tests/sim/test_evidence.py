"""The optional observations that order LB against kube-proxy (recorder/sim/evidence.py):
kube-proxy's sync metrics on the probe grid and the CCM's CloudTrail calls."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from itertools import pairwise

from gapwatch.recorder.observation import Observation, validate
from gapwatch.recorder.sim import from_dict, load_scenario, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.sim.promformat import LAST_QUEUED, LAST_SYNC
from gapwatch.recorder.sim.result import Simulation
from gapwatch.recorder.sources.kubeproxy.metrics import PROCESS_START, SYNC_COUNT, SYNC_SUM
from gapwatch.recorder.timefmt import parse_time, to_micros

OPTIONS = {"observe.kube_proxy_metrics": True, "observe.cloudtrail": True}


def _strip(obs: list[Observation]) -> list[Observation]:
    return [o for o in obs if o.kind not in ("ProxyMetrics", "TargetChange")]


def test_options_add_observations_and_change_nothing_else() -> None:
    for name in ("seed-3node", "aws-nlb"):
        plain = run(load_scenario(name, {}), 3)
        extra = run(load_scenario(name, OPTIONS), 3)
        assert not [o for o in plain.observations if o.kind in ("ProxyMetrics", "TargetChange")]
        assert _strip(extra.observations) == plain.observations
        assert extra.truth.windows == plain.truth.windows
        times = [o.observed_at for o in extra.observations]
        assert times == sorted(times), "still emitted in observed_at order"
        for o in extra.observations:
            assert validate(o) == o


def test_metrics_looks_report_kube_proxys_syncs() -> None:
    sim = Simulation(load_scenario("seed-3node", OPTIONS), 5)
    obs = list(sim)
    world = sim.world
    assert world is not None
    start = to_micros(world.clock.dt(0))
    looks: dict[str, list[Observation]] = defaultdict(list)
    for o in obs:
        if o.kind == "ProxyMetrics":
            assert o.node is not None
            looks[o.node].append(o)
    assert set(looks) == set(world.proxy.synced_us)
    period = round(world.s.observe.kube_proxy_period_s * 1e6)
    for node, mine in looks.items():
        synced = world.proxy.synced_us[node]
        for o in mine:
            written = to_micros(o.observed_at) - start - round(o.payload["latency_ms"] * 1000)
            assert written % period == 0, "on the probe grid"
            i = bisect_right(synced, written)
            last = o.payload["metrics"][LAST_SYNC]
            assert round(last * 1e6) - start == synced[i - 1]
            queued = o.payload["metrics"][LAST_QUEUED]
            assert queued == 0 or round(queued * 1e6) - start <= written
        # every sync the run made shows in a look, and the look before it still had the old one
        shown = {round(o.payload["metrics"][LAST_SYNC] * 1e6) - start for o in mine}
        assert shown >= {s for s in synced if s < world.loop.now - period}


def test_cloudtrail_calls_are_the_ccms_membership_calls() -> None:
    sim = Simulation(load_scenario("aws-nlb", OPTIONS), 2)
    obs = list(sim)
    world = sim.world
    assert world is not None
    calls = [o for o in obs if o.kind == "TargetChange"]
    assert len(calls) == len(world.lb.calls) > 0
    start = to_micros(world.clock.dt(0))
    for o, (at_us, node, call) in zip(calls, world.lb.calls, strict=True):
        assert o.source == "cloudtrail"
        assert o.op == ("ADDED" if call == "register" else "DELETED")
        assert to_micros(o.observed_at) - start == at_us - at_us % 1_000_000
        assert o.payload["Target"]["Id"] == world.nodes[node].instance_id


def test_no_cloudtrail_for_a_weight_zero_lb() -> None:
    overrides = {**OPTIONS, "ccm.mode": "endpoint-driven", "ccm.grace_shutdown": True}
    obs = run(load_scenario("seed-3node", overrides), 1).observations
    assert not [o for o in obs if o.kind == "TargetChange"]
    assert [o for o in obs if o.kind == "ProxyMetrics"]


def test_metrics_looks_count_every_sync_of_the_process() -> None:
    """Two looks of one process (same process_start_time_seconds) differ in their sync count
    by exactly the syncs the run made between the instants their pages were written; a
    restarted kube-proxy counts again from its own start."""
    sim = Simulation(load_scenario("seed-3node", OPTIONS), 5)
    obs = list(sim)
    world = sim.world
    assert world is not None
    start = to_micros(world.clock.dt(0))
    looks: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for o in obs:
        if o.kind == "ProxyMetrics" and o.node is not None:
            written = to_micros(o.observed_at) - start - round(o.payload["latency_ms"] * 1000)
            m = o.payload["metrics"]
            looks[o.node].append((written, m[SYNC_COUNT], m[PROCESS_START]))
    checked = 0
    for node, mine in looks.items():
        synced = world.proxy.synced_us[node]
        for (a, count_a, proc_a), (b, count_b, proc_b) in pairwise(mine):
            if proc_a != proc_b:
                continue
            between = bisect_right(synced, b) - bisect_right(synced, a)
            assert count_b - count_a == between
            checked += 1
        for written, count, proc in mine:
            began = round(proc * 1e6) - start
            assert count == bisect_right(synced, written) - bisect_left(synced, began)
    assert checked > 10


def test_metrics_looks_add_up_the_syncs_durations_as_a_histogram_does() -> None:
    """kube-proxy's rules-sync duration is a Prometheus histogram, which always prints `_sum`
    beside `_count` (both real pages in tests/fixtures/kubeproxy do: 9.37 s over 23 syncs on
    v1.21.1, 0.30 s over 4 on v1.29.0): never missing, never shrinking within a process."""
    obs = run(load_scenario("seed-3node", OPTIONS), 5).observations
    pages = [(o.node, o.payload["metrics"]) for o in obs if o.kind == "ProxyMetrics"]
    assert pages and all(SYNC_SUM in m for _, m in pages)
    assert any(m[SYNC_COUNT] > 0 for _, m in pages)
    last: dict[tuple[str | None, float], float] = {}
    for node, m in pages:
        key = (node, m[PROCESS_START])
        assert m[SYNC_SUM] >= last.get(key, 0.0)
        last[key] = m[SYNC_SUM]


def _one_sync_looks(sim: Simulation, obs: list[Observation]) -> list[tuple[str, int, int]]:
    """(node, end, begin) of every sync a pair of looks of one process shows alone (the count one
    more): its end from the last-sync gauge, its begin that less the growth of `_sum`."""
    world = sim.world
    assert world is not None
    start = to_micros(world.clock.dt(0))
    looks: dict[str, list[dict[str, float]]] = defaultdict(list)
    for o in obs:
        if o.kind == "ProxyMetrics" and o.node is not None:
            looks[o.node].append(o.payload["metrics"])
    out = []
    for node, pages in looks.items():
        for a, b in pairwise(pages):
            if a[PROCESS_START] == b[PROCESS_START] and b[SYNC_COUNT] == a[SYNC_COUNT] + 1:
                end = round(b[LAST_SYNC] * 1e6) - start
                out.append((node, end, end - round((b[SYNC_SUM] - a[SYNC_SUM]) * 1e6)))
    return out


def test_a_sync_the_looks_show_applied_every_change_queued_before_it_began() -> None:
    """A real kube-proxy's sync takes every change pending when it begins (syncProxyRules:
    endpointsMap.Update) and observes its duration when it ends, so a sync that ended at `S`
    after running `d` (the growth of `_sum` over the one sync between two looks) applied every
    change queued before `S - d`. Random scenario 220 (node-001, a sync 2.8-7 s after a change
    it did not apply) printed `_sum` 0: a sync that began after changes it left out."""
    data = random_scenario(220)
    data["observe"]["kube_proxy_metrics"] = True
    sim = Simulation(from_dict(data, "random 220"), 220)
    obs = list(sim)
    world = sim.world
    assert world is not None
    shown = _one_sync_looks(sim, obs)
    assert len(shown) > 20
    for node, end, began in shown:
        synced = world.proxy.synced_us[node]
        k = bisect_left(synced, end)
        assert synced[k] == end
        applied = world.proxy.applied_n[node][k]
        queued = world.proxy.queued_us[node]
        assert bisect_left(queued, began) <= applied, (node, end, began)
        assert applied == 0 or queued[applied - 1] <= began or began == end
    assert any(end - began > 1_000_000 for _, end, began in shown)


def test_the_access_log_adds_the_successes_and_changes_nothing_else() -> None:
    # seed-3node sends traffic (rps 100) through an HTTP listener: its failed requests are
    # emitted either way; `observe.access_log` adds the successful ones the ALB logs too,
    # drawn from their own generator (recorder.sim.alblog), and aws-nlb's TCP listener has none
    for name in ("seed-3node", "aws-nlb"):
        plain = run(load_scenario(name, {}), 3)
        extra = run(load_scenario(name, {"observe.access_log": True}), 3)
        added = [o for o in extra.observations if o not in plain.observations]
        assert [o for o in extra.observations if o in plain.observations] == plain.observations
        assert (extra.truth.windows, extra.truth.requests) == (
            plain.truth.windows,
            plain.truth.requests,
        )
        times = [o.observed_at for o in extra.observations]
        assert times == sorted(times), "still emitted in observed_at order"
        if name == "aws-nlb":
            assert added == []
            continue
        assert len(added) > 100
        assert {o.kind for o in added} == {"LBAccessLog"}
        for o in added:
            fields = o.payload["fields"]
            assert (fields["elb_status_code"], fields["target_status_code"]) == ("200", "200")
            assert validate(o) == o
        # outside every true window of their node: the LB routed there and the node served
        spans = [(w.node, to_micros(parse_time(w.start)), to_micros(parse_time(w.end))) for w in
                 plain.truth.windows]  # fmt: skip
        for o in added:
            assert o.source_time is not None
            at = to_micros(o.source_time)
            assert not [n for n, a, b in spans if n == o.node and a <= at < b]


def test_metrics_looks_state_the_gate_as_that_kube_proxy_prints_it() -> None:
    """kube-proxy prints ProxyTerminatingEndpoints' `kubernetes_feature_enabled` from 1.26 (BETA,
    its setting) and from 1.28 as GA (stage "", 1); before 1.26 there is no such metric. The
    replay fact reads the same sample the recorder keeps from a real page."""
    gate = 'kubernetes_feature_enabled{{name="ProxyTerminatingEndpoints",stage="{}"}}'
    cases = [
        ("v1.25.16", True, {}),
        ("v1.27.8", False, {gate.format("BETA"): 0.0}),
        ("v1.26.15", True, {gate.format("BETA"): 1.0}),
        ("v1.29.10", True, {gate.format(""): 1.0}),
    ]
    for version, pte, expected in cases:
        overrides = {**OPTIONS, "nodes.kube_proxy_version": version,
                     "kube_proxy.proxy_terminating_endpoints": pte}  # fmt: skip
        obs = run(load_scenario("seed-3node", overrides), 1).observations
        pages = [o.payload["metrics"] for o in obs if o.kind == "ProxyMetrics"]
        assert pages
        for page in pages:
            assert {k: v for k, v in page.items() if k.startswith("kubernetes_")} == expected


def test_configz_reads_state_the_gate_as_a_configuration_sets_it() -> None:
    """`observe.kube_proxy_configz`: one ProxyConfig per node, the first probe tick after its
    kube-proxy answers, naming ProxyTerminatingEndpoints only where the run's gate differs from
    its version's default (1.22-1.27); nothing else of the run changes."""
    cases = [
        ("v1.25.16", True, {"ProxyTerminatingEndpoints": True}),
        ("v1.25.16", False, {}),
        ("v1.27.8", False, {"ProxyTerminatingEndpoints": False}),
        ("v1.26.15", True, {}),
        ("v1.29.10", True, {}),
    ]
    for version, pte, gates in cases:
        overrides = {"nodes.kube_proxy_version": version,
                     "kube_proxy.proxy_terminating_endpoints": pte}  # fmt: skip
        plain = run(load_scenario("seed-3node", overrides), 1)
        with_configz = {**overrides, "observe.kube_proxy_configz": True}
        read = run(load_scenario("seed-3node", with_configz), 1)
        configs = [o for o in read.observations if o.kind == "ProxyConfig"]
        assert [o for o in read.observations if o.kind != "ProxyConfig"] == plain.observations
        assert read.truth.windows == plain.truth.windows
        assert sorted(str(o.node) for o in configs) == ["NODE1", "NODE2", "NODE3"]
        for o in configs:
            assert validate(o) == o
            assert o.payload["feature_gates"] == gates and o.payload["look"] == "first"
