"""The ELBv2 poller against moto's server over real HTTP (boto3 pointed at it).

moto keeps registrations, tags and attributes but only ever reports `healthy` for a registered
target: the other states come from tests/lb/fakeelb.HealthProxy, which forwards every request to
moto and rewrites chosen targets' TargetHealth in moto's real XML answer (see its docstring).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

from gapwatch.recorder.sources.lb.elbv2 import Elbv2Client, Elbv2Groups, TargetGroupRef
from gapwatch.recorder.sources.lb.poller import Adapter, PollerSource, PollSettings
from gapwatch.recorder.sources.lb.shape import LbApiError
from gapwatch.recorder.sources.lb.tracker import ServiceKey
from gapwatch.recorder.store import make_engine
from gapwatch.replay.facts import write_facts
from tests.lb.awsworld import REGION, AwsWorld, make_world
from tests.lb.fakeelb import LOOP_MARKER, HealthProxy
from tests.lb.harness import look, make_source, now, stored

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lb"


def elbv2_source(groups: Elbv2Groups, url: str, world: AwsWorld, **kw: Any) -> PollerSource:
    return make_source(
        "elbv2", elbv2_adapter(groups, url), nodes=world.nodes(), service_of=groups.service_of, **kw
    )


def elbv2_adapter(groups: Elbv2Groups, url: str) -> Callable[[Callable[[str], None]], Adapter]:
    def adapter(count: Callable[[str], None]) -> Adapter:
        groups.connect(region=REGION, endpoint_url=url, count=count, max_attempts=1)
        return groups

    return adapter


def aws_states() -> list[tuple[str, str | None]]:
    """Every (state, reason code) AWS documents for ALB and NLB targets (fixtures, unchanged)."""
    pairs: set[tuple[str, str | None]] = set()
    for name in (
        "awsdocs-alb-target-health-states-and-reason-codes.md",
        "awsdocs-nlb-target-health-states-and-reason-codes.md",
    ):
        for line in (FIXTURES / name).read_text("utf-8").splitlines():
            row = re.match(r"\| `([a-z.]+)` \|(.*)\|", line)
            if row is None:
                continue
            reasons = re.findall(r"`((?:Elb|Target)\.[A-Za-z]+)`", row.group(2))
            pairs.update((row.group(1), r) for r in reasons or [None])
    # newer than the saved docs: an unhealthy target that is also deregistering
    pairs.add(("unhealthy.draining", "Target.DeregistrationInProgress"))
    return sorted(pairs, key=lambda p: (p[0], p[1] or ""))


def within(bounds: tuple[datetime | None, datetime], change: tuple[datetime, datetime]) -> bool:
    """The recorded [previous_observed_at, observed_at] can hold the true change time."""
    lower, upper = bounds
    return lower is not None and lower <= change[1] and change[0] <= upper


def test_register_health_and_deregister_become_transitions_on_the_right_node(
    store_url: str, moto_url: str, elb_proxy: HealthProxy
) -> None:
    world = make_world(moto_url)
    groups = Elbv2Groups([TargetGroupRef(world.arn, ServiceKey("istio-system", "igw"))], {})
    source = elbv2_source(groups, elb_proxy.url, world)
    engine = make_engine(store_url)
    try:
        look(source, engine)  # an empty target group: only its timing attributes
        changes: dict[str, tuple[datetime, datetime]] = {}

        def step(name: str, action: Callable[[], None]) -> None:
            before = now()
            action()
            changes[name] = (before, now())
            look(source, engine)

        step("register", lambda: world.register(0, 1))
        step(
            "unhealthy",
            lambda: elb_proxy.set_health(
                world.instances[1], "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
            ),
        )
        step("deregister", lambda: world.deregister(0))
        got = stored(engine)
        attrs = stored(engine, "TargetGroupAttributes")
        facts = (
            engine.connect()
            .execute(
                text("SELECT state, node, text3 FROM facts WHERE fact = 'target' ORDER BY event_id")
            )
            .all()
        )
    finally:
        engine.dispose()
    got = sorted(got, key=lambda o: (o.observed_at, o.node or ""))  # one look: any order
    summary = [(o.op, o.node, o.payload["TargetHealth"]["State"]) for o in got]
    assert summary == [
        ("ADDED", "node-0", "healthy"),
        ("ADDED", "node-1", "healthy"),
        ("MODIFIED", "node-1", "unhealthy"),
        ("DELETED", "node-0", "healthy"),
    ]
    for obs, change in zip(got, ["register", "register", "unhealthy", "deregister"], strict=True):
        assert within((obs.previous_observed_at, obs.observed_at), changes[change]), change
        assert (obs.namespace, obs.name, obs.source) == ("istio-system", "igw", "lb-poller")
        assert obs.payload["HealthCheckPort"] == "31805"  # kube-proxy's healthCheckNodePort
        assert obs.payload["TargetGroupArn"] == world.arn
    assert got[2].payload["TargetHealth"]["Reason"] == "Target.FailedHealthChecks"
    assert [a.op for a in attrs] == ["ADDED"]
    assert attrs[0].payload["Attributes"]["deregistration_delay.timeout_seconds"] == "300"
    assert attrs[0].payload["Attributes"]["HealthCheckIntervalSeconds"] == "10"
    assert attrs[0].payload["Attributes"]["UnhealthyThresholdCount"] == "3"
    # replay's narrow rows: the LB lane of the right node, a deregistration as `absent`
    assert sorted([tuple(f) for f in facts[:2]]) + [tuple(f) for f in facts[2:]] == [
        ("healthy", "node-0", world.instances[0]),
        ("healthy", "node-1", world.instances[1]),
        ("unhealthy", "node-1", world.instances[1]),
        ("absent", "node-0", world.instances[0]),
    ]


def test_every_documented_state_and_reason_code_is_recorded(
    engine: Engine, moto_url: str, elb_proxy: HealthProxy
) -> None:
    world = make_world(moto_url, instances=1)
    world.register(0)
    source = make_source(
        "elbv2",
        elbv2_adapter(Elbv2Groups([TargetGroupRef(world.arn)], {}), elb_proxy.url),
        nodes=world.nodes(),
    )
    pairs = aws_states()
    assert {s for s, _r in pairs} == {
        "initial",
        "healthy",
        "unhealthy",
        "unhealthy.draining",
        "unused",
        "draining",
        "unavailable",
    }
    look(source, engine)
    for state, reason in pairs:
        elb_proxy.set_health(world.instances[0], state, reason, f"scripted {state}")
        look(source, engine)
    got = stored(engine)
    seen = [
        (o.payload["TargetHealth"]["State"], o.payload["TargetHealth"].get("Reason"))
        for o in got[1:]
    ]
    assert seen == pairs
    assert all(o.op == "MODIFIED" and o.node == "node-0" for o in got[1:])


def test_target_groups_found_by_tag_name_their_service(
    engine: Engine, moto_url: str, elb_proxy: HealthProxy
) -> None:
    tagged, untagged = make_world(moto_url, instances=1), make_world(moto_url, tags=False)
    tagged.register(0)
    untagged.register(0)
    groups = Elbv2Groups([], {"service.k8s.aws/stack": "istio-system/istio-ingressgateway"})
    source = elbv2_source(groups, elb_proxy.url, tagged)
    look(source, engine)
    got = stored(engine)
    arns = {o.payload["TargetGroupArn"] for o in got}
    assert tagged.arn in arns and untagged.arn not in arns
    mine = [o for o in got if o.payload["TargetGroupArn"] == tagged.arn]
    assert [(o.namespace, o.name, o.node) for o in mine] == [
        ("istio-system", "istio-ingressgateway", "node-0")
    ]


def test_throttling_backs_off_and_api_calls_are_counted(
    engine: Engine, moto_url: str, elb_proxy: HealthProxy
) -> None:
    world: AwsWorld = make_world(moto_url, instances=1)
    world.register(0)
    registry = CollectorRegistry()
    source = make_source(
        "elbv2",
        elbv2_adapter(Elbv2Groups([TargetGroupRef(world.arn)], {}), elb_proxy.url),
        nodes=world.nodes(),
        settings=PollSettings(interval_s=5, heartbeat_s=3600, max_backoff_s=300),
        registry=registry,
    )
    look(source, engine)
    calls_after_first = len(elb_proxy.actions)
    assert source.next_delay() == 5
    delays = []
    for _ in range(3):
        elb_proxy.throttle(1)
        assert look(source, engine) == 0
        delays.append(source.next_delay())
    # doubling with jitter in [50 %, 100 %] of 10, 20, 40 s
    assert [5 <= delays[0] <= 10, 10 <= delays[1] <= 20, 20 <= delays[2] <= 40] == [True] * 3
    assert "Throttling" in (source.ready() or "")
    elb_proxy.set_health(world.instances[0], "unhealthy", "Target.Timeout", "timed out")
    assert look(source, engine) == 1
    assert source.ready() is None and source.next_delay() == 5
    value = registry.get_sample_value
    assert value("gapwatch_lb_throttled_total", {"source": "elbv2"}) == 3
    sent = sum(
        value("gapwatch_lb_api_calls_total", {"source": "elbv2", "operation": op}) or 0
        for op in ("DescribeTargetHealth", "DescribeTargetGroups", "DescribeTargetGroupAttributes")
    )
    assert sent == len(elb_proxy.actions) == calls_after_first + 4
    assert value("gapwatch_lb_api_calls_per_minute", {"source": "elbv2"}) == sent


@pytest.mark.parametrize("bad", [{}, {"target_groups": [{"service": "a/b"}]}, {"tags": [1]}])
def test_bad_elbv2_settings_are_config_errors(bad: dict[str, object]) -> None:
    import random

    from gapwatch.recorder.errors import ConfigError
    from gapwatch.recorder.sources.base import SourceContext
    from gapwatch.recorder.sources.lb.build import build_elbv2
    from gapwatch.recorder.sources.view import ClusterView

    ctx = SourceContext(
        "c",
        make_engine("sqlite://"),
        now,
        random.Random(1),
        CollectorRegistry(),
        ClusterView(),
        write_facts,
    )
    with pytest.raises(ConfigError, match=r"sources\.elbv2"):
        build_elbv2(ctx, bad)


def binding(arn: str | None, namespace: str, service: str | None) -> dict[str, Any]:
    """A TargetGroupBinding as the AWS Load Balancer Controller's docs show it."""
    spec: dict[str, Any] = {"targetType": "instance"}
    if arn is not None:
        spec["targetGroupARN"] = arn
    if service is not None:
        spec["serviceRef"] = {"name": service, "port": 80}
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": f"k8s-{namespace}-{service}", "namespace": namespace},
        "spec": spec,
    }


def test_target_groups_from_target_group_bindings_name_their_service(
    engine: Engine, moto_url: str, elb_proxy: HealthProxy
) -> None:
    """The bindings come from a local HTTP fake of the Kubernetes API's custom-objects list
    (`GET /apis/elbv2.k8s.aws/v1beta1/targetgroupbindings`), read by the kubernetes client."""
    from gapwatch.recorder.sources.lb.bindings import BindingLister, refs_from_bindings
    from tests.lb.fakecloud import FakeCloud

    world = make_world(moto_url, instances=1, tags=False)
    world.register(0)
    items = [binding(world.arn, "istio-system", "igw"), binding(None, "x", "no-arn")]
    assert refs_from_bindings(items) == [
        TargetGroupRef(world.arn, ServiceKey("istio-system", "igw"))
    ]
    with FakeCloud() as k8s:
        k8s.answer(
            "GET /apis/elbv2.k8s.aws/v1beta1/targetgroupbindings",
            {
                "apiVersion": "elbv2.k8s.aws/v1beta1",
                "kind": "TargetGroupBindingList",
                "metadata": {"resourceVersion": "42"},
                "items": items,
            },
        )
        groups = Elbv2Groups([], {}, bindings=BindingLister(api_server=k8s.url))
        source = elbv2_source(groups, elb_proxy.url, world)
        look(source, engine)
        got = stored(engine)
    assert [(o.namespace, o.name, o.node, o.payload["TargetGroupArn"]) for o in got] == [
        ("istio-system", "igw", "node-0", world.arn)
    ]


def test_a_deleted_target_group_deletes_its_targets_and_the_others_go_on(
    engine: Engine, moto_url: str, elb_proxy: HealthProxy
) -> None:
    kept, deleted = make_world(moto_url, instances=2), make_world(moto_url, instances=1)
    kept.register(0)
    deleted.register(0)
    groups = Elbv2Groups([TargetGroupRef(kept.arn), TargetGroupRef(deleted.arn)], {})
    source = elbv2_source(groups, elb_proxy.url, kept)
    look(source, engine)
    deleted.deregister(0)
    deleted.elb.delete_target_group(TargetGroupArn=deleted.arn)
    kept.register(1)
    look(source, engine)
    got = stored(engine)
    assert source.ready() is None
    later = sorted(
        (o.op, o.payload["TargetGroupArn"] == kept.arn, o.payload["Target"]["Port"])
        for o in got[2:]
    )
    assert later == [("ADDED", True, 32999), ("DELETED", False, 32999)]


def test_target_group_paging_that_never_ends_is_an_error_naming_the_marker(
    moto_url: str, elb_proxy: HealthProxy
) -> None:
    """moto's server behind the proxy, which gives the next 500 DescribeTargetGroups listings the
    marker they were asked for as their NextMarker (the first: LOOP_MARKER). Session 33 found
    `discover` following it page after page (on a server that does it for ever: never
    returning, the ARNs growing a page a call); now the repeated marker is an LbApiError that
    names it, after two pages, and the next listing that ends is answered as before."""
    world = make_world(moto_url, instances=1)
    client = Elbv2Client(region=REGION, endpoint_url=elb_proxy.url, max_attempts=1)
    elb_proxy.loop_marker(500)
    with pytest.raises(LbApiError) as info:
        client.discover({})
    assert elb_proxy.actions.count("DescribeTargetGroups") == 2
    assert f"marker {LOOP_MARKER!r} was answered before" in str(info.value)
    elb_proxy.loop_marker(0)
    assert world.arn in [ref.arn for ref in client.discover({})]
