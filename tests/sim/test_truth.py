"""The ground truth: windows, failed requests and rollouts, and the truth file's format."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import timedelta
from itertools import pairwise

import orjson
import pytest

from gapwatch.recorder.sim import Truth, load_scenario, run
from gapwatch.recorder.sim.nodegrace import not_ready_after_s
from gapwatch.recorder.timefmt import parse_time
from gapwatch.replay.model import WINDOW_CLASSES

SMALL = ["seed-3node", "mitigated", "aws-nlb"]


def truth_of(name: str, seed: int = 1, /, **overrides: object) -> Truth:
    return run(load_scenario(name, overrides), seed).truth


@pytest.mark.parametrize("name", [*SMALL, "large"])
def test_failed_requests_fall_inside_true_windows_only(name: str) -> None:
    extra = {"duration_s": 2400} if name == "large" else {}
    truth = truth_of(name, 2, **extra)
    by_node = defaultdict(list)
    for w in truth.windows:
        assert w.cls in WINDOW_CLASSES
        assert w.start_us < w.end_us
        by_node[w.node].append(w)
    for windows in by_node.values():
        windows.sort(key=lambda w: w.start_us)
        for a, b in pairwise(windows):
            assert a.end_us <= b.start_us, "windows of one node never overlap"
    assert truth.requests
    for q in truth.requests:
        assert any(w.start_us <= q.at_us < w.end_us for w in by_node[q.node]), q


def test_node_driven_health_checks_never_register_before_forwarding() -> None:
    """A scale-up puts pods on new nodes: the endpoint-driven CCM routes to them before
    kube-proxy forwards; the NLB's health check answers 200 only after kube-proxy's sync."""
    scale_up = [{"at_s": 60, "action": "scale", "workload": "ingress", "replicas": 5}]
    for seed in range(1, 4):
        assert truth_of("aws-nlb", seed, events=scale_up).windows == ()
        endpoint_driven = truth_of(
            "aws-nlb",
            seed,
            events=scale_up,
            **{
                "ccm.mode": "endpoint-driven",
                "ccm.register_lag_s": 0.3,
            },
        )
        assert {w.cls for w in endpoint_driven.windows} == {"registered-before-forwarding"}


def test_node_driven_rollout_without_pte_closes_before_deregistering() -> None:
    without_pte = {
        "kube_proxy.proxy_terminating_endpoints": False,
        "nodes.kube_proxy_version": "v1.27.8",
    }
    for seed in range(1, 4):
        # PTE keeps forwarding while the HC fails, but without preStop the pod exits first
        assert "pod-gone-before-deregistered" in {w.cls for w in truth_of("aws-nlb", seed).windows}
        classes = {w.cls for w in truth_of("aws-nlb", seed, **without_pte).windows}
        assert "closed-before-deregistered" in classes


def test_node_driven_prestop_longer_than_hc_detection_closes_rollout_windows() -> None:
    scenario = load_scenario("aws-nlb")
    hc = scenario.lb.health_check
    detection = hc.interval_s * (hc.unhealthy_threshold + 1)
    quiet = {"events": [{"at_s": 60, "action": "rollout"}], "ingress.pod.prestop_s": detection}
    for seed in range(1, 4):
        assert truth_of("aws-nlb", seed, **quiet).windows == ()
        assert truth_of("aws-nlb", seed, events=quiet["events"]).windows != ()


def test_deleting_a_routed_node_is_a_node_not_ready_window() -> None:
    truth = truth_of("seed-3node", events=[{"at_s": 100, "action": "delete_node", "node": "NODE1"}])
    windows = [w for w in truth.windows if w.node == "NODE1"]
    assert [w.cls for w in windows] == ["node-not-ready"]
    assert windows[0].start_us == 100_000_000
    assert {q.outcome for q in truth.requests if q.node == "NODE1"} == {"502"}


def test_a_crashed_pod_behind_open_rules_refuses() -> None:
    truth = truth_of(
        "seed-3node",
        events=[{"at_s": 100, "action": "crash_pod", "workload": "ingress", "node": "NODE1"}],
    )
    first, *later = truth.windows
    assert first.cls == "pod-gone-before-deregistered"
    assert first.start_us == 100_000_000  # the crash itself
    inside = [q for q in truth.requests if first.start_us <= q.at_us < first.end_us]
    # refused while kube-proxy's rules still point at the dead pod, dropped (502) once removed
    assert inside[0].outcome == "refused"
    outcomes = [q.outcome for q in inside]
    assert outcomes == sorted(outcomes, key=lambda o: o != "refused")
    # the restarted pod is registered again before kube-proxy forwards to it: the seed's race 1
    assert [w.cls for w in later] == ["registered-before-forwarding"]


def test_a_grace_period_shorter_than_prestop_kills_the_pod_while_routed() -> None:
    truth = truth_of(
        "mitigated", **{"ingress.pod.prestop_s": 20, "ingress.pod.termination_grace_s": 1}
    )
    assert "pod-gone-before-deregistered" in {w.cls for w in truth.windows}


def test_tcp_listener_requests_time_out() -> None:
    truth = truth_of("seed-3node", **{"lb.listener": "tcp"})
    assert {q.outcome for q in truth.requests} == {"timeout"}


def test_rollout_truth_matches_the_recorded_revisions() -> None:
    result = run(load_scenario("seed-3node"), 1)
    (rollout,) = result.truth.rollouts
    assert rollout.workload == "Deployment/istio-system/istio-ingressgateway"
    assert rollout.start_us == 60_000_000
    hashes_at_start = set()
    deleted = {}
    for o in result.observations:
        if o.kind != "Pod" or not o.name or not o.name.startswith("istio-ingressgateway"):
            continue
        revision = o.payload["metadata"]["labels"]["pod-template-hash"]
        if o.op == "ADDED" and o.observed_at.second < 30 and o.observed_at.minute == 0:
            hashes_at_start.add(revision)
        if o.op == "DELETED":
            deleted[o.name] = (revision, o.observed_at)
    assert hashes_at_start == {rollout.revision_from}
    assert {rev for rev, _ in deleted.values()} == {rollout.revision_from}
    assert len(deleted) == 2
    # the watch sees each deletion a watch delay after it happened (and the rollout ended)
    slack = timedelta(seconds=load_scenario("seed-3node").observe.watch_delay_s.bound)
    end = parse_time(rollout.end)
    assert all(t <= end + slack for _, t in deleted.values())
    assert rollout.revision_to != rollout.revision_from


def test_truth_file_has_the_agreed_format() -> None:
    truth = truth_of("seed-3node", 5)
    buffer = io.BytesIO()
    count = truth.write(buffer)
    lines = [orjson.loads(line) for line in buffer.getvalue().splitlines()]
    assert len(lines) == count
    assert lines[0]["type"] == "params" and lines[0]["seed"] == 5
    assert lines[0]["kube_proxy"]["proxy_terminating_endpoints"] is False
    keys = {
        "window": ["type", "cluster", "service", "node", "class", "start", "end"],
        "request": ["type", "cluster", "service", "node", "at", "outcome"],
        "rollout": [
            "type",
            "cluster",
            "service",
            "workload",
            "revision_from",
            "revision_to",
            "start",
            "end",
        ],
    }
    kinds = set()
    for line in lines[1:]:
        kinds.add(line["type"])
        assert list(line) == keys[line["type"]]
        assert line["cluster"] == "sim"
        assert line["service"] == "istio-system/istio-ingressgateway"
        for key in ("start", "end", "at"):
            if key in line:
                assert line[key].endswith("Z") and len(line[key]) == 27
    assert kinds == {"window", "request", "rollout"}


@pytest.mark.parametrize("name", ["seed-3node", "aws-nlb"])
def test_a_node_that_stops_answering_is_node_not_ready_until_the_lb_notices(name: str) -> None:
    scenario = load_scenario(name)
    node = scenario.node_names()[1]
    truth = truth_of(name, events=[{"at_s": 100, "action": "node_down", "node": node}])
    windows = [w for w in truth.windows if w.node == node]
    assert [w.cls for w in windows] == ["node-not-ready"]
    assert windows[0].start_us == 100_000_000
    if scenario.ccm.mode == "node-driven":
        hc = scenario.lb.health_check
        assert windows[0].duration_s <= hc.interval_s * (hc.unhealthy_threshold + 1)
    else:  # endpoint-driven: only after NotReady, the slice update and the CCM's lag
        assert windows[0].duration_s >= not_ready_after_s(scenario)


def test_daemonset_rollout_with_surge_keeps_every_node_serving() -> None:
    def daemonset(surge: int) -> dict[str, object]:
        return {
            "ingress.kind": "DaemonSet",
            "ingress.max_surge": surge,
            "ingress.max_unavailable": 1 - surge,
            "events": [{"at_s": 60, "action": "rollout"}],
        }

    for seed in range(1, 4):
        result = run(load_scenario("aws-nlb", daemonset(1)), seed)
        assert result.truth.windows == ()
        (rollout,) = result.truth.rollouts
        assert rollout.workload == "DaemonSet/istio-system/istio-ingressgateway"
        alive: dict[str, str] = {}
        for o in result.observations:
            if o.kind == "Pod" and o.name and o.name.startswith("istio-ingressgateway"):
                revision = o.payload["metadata"]["labels"]["controller-revision-hash"]
                if o.op == "DELETED":
                    alive.pop(o.name)
                else:
                    alive[o.name] = f"{o.node} {revision}"
        nodes = load_scenario("aws-nlb").node_names()
        assert sorted(alive.values()) == sorted(f"{n} {rollout.revision_to}" for n in nodes)
        # without surge each node is briefly without a ready pod: the NLB still routes to it
        assert run(load_scenario("aws-nlb", daemonset(0)), seed).truth.windows != ()


def test_an_abrupt_kill_resets_the_requests_in_flight() -> None:
    crash = [{"at_s": 100, "action": "crash_pod", "workload": "ingress", "node": "NODE1"}]
    slow = {"traffic.rps": 400, "traffic.request_duration_s": 0.5, "events": crash}
    truth = truth_of("seed-3node", **slow)
    resets = [q for q in truth.requests if q.outcome == "reset"]
    assert resets and {q.node for q in resets} == {"NODE1"}
    # the crash is the only pod on NODE1: the resets mark the start of its window
    assert truth.windows[0].start_us == 100_000_000
    assert {q.at_us for q in resets} == {100_000_000}
    # ~ rps / routed nodes * duration = 100 expected
    assert 50 < len(resets) < 160
    assert not [q for q in truth_of("seed-3node", events=crash).requests if q.outcome == "reset"]
    # a graceful exit drains; only a SIGKILL at the end of the grace period resets
    rollout = {"traffic.rps": 400, "traffic.request_duration_s": 0.5}
    graceful = truth_of("mitigated", **rollout)
    assert not [q for q in graceful.requests if q.outcome == "reset"]
    killed = truth_of("mitigated", **rollout, **{"ingress.pod.termination_grace_s": 1})
    assert [q for q in killed.requests if q.outcome == "reset"]
