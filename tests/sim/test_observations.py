"""What the simulator emits is what the recorder's sources would record, in the same shapes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from gapwatch.recorder.observation import Observation, validate
from gapwatch.recorder.sim import PRESETS, load_scenario, run
from gapwatch.recorder.sim.observe import HEALTH_ANSWER_MS
from gapwatch.recorder.timefmt import parse_time, to_micros

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sim"
SOURCES = {"k8s-watch", "kube-proxy-probe", "lb-poller", "elb-access-log"}


def observations(name: str, seed: int = 1, **overrides: object) -> list[Observation]:
    if name == "large":
        overrides.setdefault("duration_s", 2400)
    return run(load_scenario(name, overrides), seed).observations


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_observation_follows_the_contract(name: str) -> None:
    obs = observations(name)
    assert obs
    for o in obs:
        assert validate(o) == o
    assert {o.source for o in obs} <= SOURCES
    times = [o.observed_at for o in obs]
    assert times == sorted(times), "emitted in observed_at order"


def test_resource_versions_come_from_one_counter() -> None:
    obs = [o for o in observations("aws-nlb") if o.source == "k8s-watch"]
    rvs = [int(o.resource_version or 0) for o in obs]
    assert len(set(rvs)) == len(rvs), "every write has its own resourceVersion"
    for o in obs:
        meta = o.payload["metadata"]
        assert meta["resourceVersion"] == o.resource_version


@pytest.mark.parametrize(
    ("name", "overrides", "kinds"),
    [
        # a NodePort Service has no healthCheckNodePort: only the NodePort itself is probed
        ("seed-3node", {"service.type": "NodePort"}, {"NodePortProbe"}),
        ("seed-3node", {}, {"NodePortProbe", "ProxyHealth"}),
        ("aws-nlb", {}, {"NodePortProbe", "ProxyHealth"}),
    ],
)
def test_samplers_report_changes_with_the_previous_look(
    name: str, overrides: dict[str, str], kinds: set[str]
) -> None:
    scenario = load_scenario(name, overrides)
    period = timedelta(seconds=scenario.observe.kube_proxy_period_s)
    heartbeat = timedelta(seconds=scenario.observe.heartbeat_s)
    seen: dict[tuple[str, str | None], list[Observation]] = defaultdict(list)
    for o in run(scenario, 1).observations:
        if o.source == "kube-proxy-probe":
            seen[(o.kind, o.node)].append(o)
    assert {kind for kind, _node in seen} == kinds
    assert {node for _kind, node in seen} >= set(scenario.node_names())
    for samples in seen.values():
        assert samples[0].previous_observed_at is None
        for before, after in pairwise(samples):
            assert after.previous_observed_at is not None
            # the previous look is one period before this one (probe latency aside)
            look = after.observed_at - after.previous_observed_at
            assert period <= look < period + timedelta(seconds=1.5)
            assert after.observed_at - before.observed_at <= heartbeat + timedelta(seconds=1.5)


def test_health_check_fails_while_pte_keeps_forwarding() -> None:
    """KEP-1669: a terminating-but-serving pod keeps the NodePort open, the HC answers 503."""
    obs = observations("aws-nlb")
    state: dict[str | None, dict[str, object]] = defaultdict(dict)
    both = False
    for o in obs:
        if o.kind == "ProxyHealth":
            state[o.node]["health"] = o.payload["status"]
        elif o.kind == "NodePortProbe":
            state[o.node]["port"] = o.payload["result"]
        else:
            continue
        if state[o.node] == {"health": 503, "port": "connected"}:
            both = True
    assert both


def test_payloads_have_the_shape_of_the_real_objects() -> None:
    obs = observations("aws-nlb")
    first: dict[str, Observation] = {}
    for o in obs:
        first.setdefault(o.kind, o)
    sample_slice = json.loads((FIXTURES / "k9s-endpointslice-v1.json").read_text())
    ours = first["EndpointSlice"].payload
    assert set(sample_slice) - {"apiVersion", "kind"} <= set(ours)
    assert set(sample_slice["endpoints"][0]) <= set(ours["endpoints"][0])
    assert set(sample_slice["endpoints"][0]["conditions"]) == set(
        ours["endpoints"][0]["conditions"]
    )
    services = json.loads(
        (FIXTURES / "kubelb-kind-services-lb-local-healthchecknodeport.json").read_text()
    )
    svc = first["Service"].payload
    assert svc["spec"]["externalTrafficPolicy"] == services[0]["spec"]["externalTrafficPolicy"]
    assert {"healthCheckNodePort", "ports", "type"} <= set(svc["spec"])
    assert set(services[0]["spec"]["ports"][0]) >= set(svc["spec"]["ports"][0]) - {"name"}
    nodes = json.loads((FIXTURES / "aws-kops-nodelist-2nodes.json").read_text())["items"]
    node = first["Node"].payload
    assert (
        node["spec"]["providerID"].split("/")[:3] == nodes[0]["spec"]["providerID"].split("/")[:3]
    )
    assert {"kubeletVersion", "kubeProxyVersion"} <= set(node["status"]["nodeInfo"])
    hc_body = json.loads((FIXTURES / "hcnp-body-aks-nginx-legacy-format.json").read_text())
    assert set(hc_body) <= set(first["ProxyHealth"].payload["body"])
    examples = json.loads((FIXTURES / "botocore-elbv2-examples-1.json").read_text())
    described = examples["examples"]["DescribeTargetHealth"][0]["output"]
    real = described["TargetHealthDescriptions"][1]
    target = first["TargetHealth"].payload
    assert set(real) <= set(target)
    assert set(real["Target"]) == set(target["Target"])


def test_service_controller_events_announce_lb_updates() -> None:
    events = [o for o in observations("seed-3node") if o.kind == "Event"]
    assert events
    for e in events:
        assert e.payload["source"]["component"] == "service-controller"
        assert e.payload["reason"] == "UpdatedLoadBalancer"
        assert e.payload["message"] == "Updated load balancer with new hosts"
        assert e.source_time is not None
    counts = [e.payload["count"] for e in events]
    assert counts == sorted(counts) and counts[-1] == len(events)


@pytest.mark.parametrize("name", ["seed-3node", "aws-nlb"])
def test_probes_inside_a_true_window_see_the_node_not_serving(name: str) -> None:
    """The observations carry the truth: a probe that lands in a window is not 'connected'."""
    result = run(load_scenario(name), 4)
    t0 = to_micros(parse_time(load_scenario(name).start))
    # the state a sample saw: the last NodePortProbe observation per node before each instant
    probes: dict[str | None, list[tuple[int, str]]] = defaultdict(list)
    for o in result.observations:
        if o.kind == "NodePortProbe":
            sampled = to_micros(o.observed_at) - t0 - round(o.payload["latency_ms"] * 1000)
            probes[o.node].append((sampled, o.payload["result"]))
    checked = 0
    for w in result.truth.windows:
        for sampled, answer in probes[w.node]:
            if w.start_us < sampled < w.end_us:
                assert answer != "connected", (w, sampled)
                checked += 1
    assert checked > 0


def test_each_kind_is_watched_in_resource_version_order() -> None:
    last: dict[str, int] = {}
    for o in observations("large"):
        if o.source == "k8s-watch":
            rv = int(o.resource_version or 0)
            assert rv > last.get(o.kind, 0), o
            last[o.kind] = rv


@pytest.mark.parametrize("name", ["aws-nlb", "seed-3node"])
def test_a_health_answer_is_stamped_at_its_own_end_not_the_nodeport_timeout(name: str) -> None:
    # The real prober stores each probe at its own look's end (recorder/sources/kubeproxy/
    # tracker.py): where the NodePort probe of a look times out, the health check answered
    # beside it is not held up by that timeout, so no answered health check shares the timed-out
    # probe's instant; it comes from the same look, one timeout earlier.
    obs = observations(name)
    timeout_s = load_scenario(name).observe.probe_timeout_s
    answered = {
        (o.node, o.observed_at)
        for o in obs
        if o.kind == "ProxyHealth" and o.payload["status"] is not None
    }
    timed_out = [o for o in obs if o.kind == "NodePortProbe" and o.payload["result"] == "timeout"]
    assert timed_out
    assert not [o for o in timed_out if (o.node, o.observed_at) in answered]
    lead = timedelta(seconds=timeout_s) - timedelta(milliseconds=HEALTH_ANSWER_MS)
    assert any((o.node, o.observed_at - lead) in answered for o in timed_out)
