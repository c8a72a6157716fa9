"""Alibaba SLB, Tencent CLB and Huawei ELB v3 pollers: each cloud's official SDK client pointed at
tests/lb/fakecloud.FakeCloud, which answers the published response samples (tests/fixtures/lb/,
unchanged) and then, on cue, edited copies of them (a member turns healthy, gets weight 0, leaves).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.alibaba import AlibabaSlbClient
from gapwatch.recorder.sources.lb.huawei import HuaweiElbClient
from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.lb.shape import MissingExtra
from gapwatch.recorder.sources.lb.tencent import TencentClbClient
from gapwatch.recorder.sources.lb.tracker import ServiceKey
from tests.lb.conftest import CLOUD_ENV
from tests.lb.fakecloud import FakeCloud, fixture
from tests.lb.harness import look, make_source, node, now, stored

SVC = ServiceKey("kube-system", "nginx-ingress-lb")


@pytest.fixture
def fake() -> Iterator[FakeCloud]:
    with FakeCloud() as cloud:
        yield cloud


class Script:
    """Looks interleaved with changes, remembering when each change was made."""

    def __init__(self, source: PollerSource, engine: Engine) -> None:
        self.source, self.engine = source, engine
        self.changes: list[tuple[datetime, datetime]] = []

    def step(self, change: Callable[[], None]) -> None:
        before = now()
        change()
        self.changes.append((before, now()))
        look(self.source, self.engine)

    def transitions(self) -> list[Observation]:
        return [o for o in stored(self.engine) if o.op != "OBSERVED"]


def in_bounds(obs: Observation, change: tuple[datetime, datetime]) -> bool:
    lower = obs.previous_observed_at
    return lower is not None and lower <= change[1] and change[0] <= obs.observed_at


def no_secret_stored(engine: Engine) -> None:
    text = "".join(str(o.to_dict()) for o in stored(engine))
    for key, value in CLOUD_ENV.items():
        if "SECRET" in key or key.endswith("_SK"):
            assert value not in text


def test_alibaba_vserver_group_membership_weight_and_health(
    fake: FakeCloud, engine: Engine
) -> None:
    members = fixture("alibaba-slb-DescribeVServerGroupAttribute.json")
    health = fixture("alibaba-slb-DescribeHealthStatus.json")
    fake.answer("DescribeVServerGroupAttribute", members)
    fake.answer("DescribeHealthStatus", health)
    source = make_source(
        "alibaba-slb",
        lambda count: AlibabaSlbClient(
            load_balancer_id="lb-bp1b6c719dfa08exfuca5",
            vserver_group_id="rsp-cige6******",
            region="cn-hangzhou",
            endpoint=fake.url,
            count=count,
        ),
        nodes=[node("node-233", "cn-hangzhou.vm-233"), node("node-232", "cn-hangzhou.vm-232")],
        service=SVC,
    )
    script = Script(source, engine)
    look(source, engine)
    first = stored(engine)
    # the published samples: string-typed ports/weights, health for other servers only
    assert [(o.op, o.node, o.payload["Target"], o.payload["Weight"]) for o in first] == [
        ("ADDED", "node-232", {"Id": "vm-232", "Port": 90}, 100),
        ("ADDED", "node-233", {"Id": "vm-233", "Port": 80}, 100),
    ]
    assert first[0].payload["TargetHealth"] == {
        "State": "unavailable",
        "Reason": "Target.HealthUnknown",
    }
    assert (
        first[0].payload["Native"]["BackendServer"] == members["BackendServers"]["BackendServer"][1]
    )
    assert (first[0].namespace, first[0].name) == (SVC.namespace, SVC.name)

    healthy = copy.deepcopy(health)
    entry = healthy["BackendServers"]["BackendServer"][0]
    entry.update(ServerId="vm-233", ServerHealthStatus="normal")
    script.step(lambda: fake.answer("DescribeHealthStatus", healthy))
    weight0 = copy.deepcopy(members)
    weight0["BackendServers"]["BackendServer"][1]["Weight"] = "0"
    script.step(lambda: fake.answer("DescribeVServerGroupAttribute", weight0))
    gone = copy.deepcopy(weight0)
    del gone["BackendServers"]["BackendServer"][1]
    script.step(lambda: fake.answer("DescribeVServerGroupAttribute", gone))

    later = script.transitions()[2:]
    assert [(o.op, o.node, o.payload["TargetHealth"]["State"]) for o in later] == [
        ("MODIFIED", "node-233", "healthy"),
        ("MODIFIED", "node-232", "draining"),
        ("DELETED", "node-232", "draining"),
    ]
    assert later[1].payload["TargetHealth"]["Reason"] == "Target.WeightZero"
    assert all(in_bounds(o, c) for o, c in zip(later, script.changes, strict=True))
    assert all(c["signed"] for c in fake.calls)  # credentials came from the environment
    no_secret_stored(engine)


def test_tencent_listeners_rules_weights_and_health(fake: FakeCloud, engine: Engine) -> None:
    targets = fixture("tencent-clb-DescribeTargets-example2-output.json")
    health = fixture("tencent-clb-DescribeTargetHealth-example1-output.json")
    fake.answer("DescribeTargets", targets)
    fake.answer("DescribeTargetHealth", health)
    source = make_source(
        "tencent-clb",
        lambda count: TencentClbClient(
            load_balancer_id="lb-qc2iq5yc", region="ap-guangzhou", endpoint=fake.url, count=count
        ),
        nodes=[node("tke-1", "qcloud:///800002/ins-19425y2y")],
    )
    script = Script(source, engine)
    look(source, engine)
    first = stored(engine)
    assert sorted(
        (o.payload["TargetGroupArn"], o.payload["Target"]["Port"], o.payload["Weight"])
        for o in first
    ) == [
        ("lb-qc2iq5yc/lbl-4fo6k8na/loc-o9732aw0", 555, 10),
        ("lb-qc2iq5yc/lbl-4ue2rpl2", 666, 40),
    ]
    assert {o.node for o in first} == {"tke-1"}
    assert {o.payload["Ip"] for o in first} == {"172.16.0.12"}

    alive = copy.deepcopy(health)
    listener = alive["Response"]["LoadBalancers"][0]["Listeners"][1]
    listener["ListenerId"] = "lbl-4ue2rpl2"
    listener["Rules"][0]["Targets"][1].update(Port=666, HealthStatusDetail="Alive")
    script.step(lambda: fake.answer("DescribeTargetHealth", alive))
    graceful = copy.deepcopy(targets)
    graceful["Response"]["Listeners"][1]["Targets"][0]["Weight"] = 0  # enable-grace-shutdown
    script.step(lambda: fake.answer("DescribeTargets", graceful))

    later = script.transitions()[2:]
    assert [(o.op, o.payload["TargetHealth"]["State"], o.payload["Weight"]) for o in later] == [
        ("MODIFIED", "healthy", 40),
        ("MODIFIED", "draining", 0),
    ]
    assert all(o.payload["TargetGroupArn"] == "lb-qc2iq5yc/lbl-4ue2rpl2" for o in later)
    assert all(in_bounds(o, c) for o, c in zip(later, script.changes, strict=True))
    assert all(c["signed"] for c in fake.calls)
    no_secret_stored(engine)

    fake.fail(
        "DescribeTargets",
        200,
        {
            "Response": {
                "Error": {"Code": "RequestLimitExceeded", "Message": "rate"},
                "RequestId": "r",
            }
        },
    )
    assert look(source, engine) == 0
    assert source.failures == 1 and "RequestLimitExceeded" in (source.ready() or "")


def test_huawei_pool_members_by_ip_and_operating_status(fake: FakeCloud, engine: Engine) -> None:
    members = fixture("otc-huawei-elb-v3-list-members-response.json")
    fake.answer("ListMembers", members)
    source = make_source(
        "huawei-elb",
        lambda count: HuaweiElbClient(pool_id="pool-1", endpoint=fake.url, count=count),
        nodes=[node("cce-1", None, "120.10.10.2")],
    )
    script = Script(source, engine)
    look(source, engine)
    first = stored(engine)
    assert [
        (
            o.node,
            o.payload["Target"]["Id"],
            o.payload["Target"]["Port"],
            o.payload["TargetHealth"]["State"],
        )
        for o in first
    ] == [
        ("cce-1", "120.10.10.2", 2100, "unavailable"),
        ("cce-1", "120.10.10.2", 2101, "unavailable"),
        (None, "2001:db8:a583:6a::4", 2101, "unavailable"),  # unmapped: kept with its id
    ]
    assert first[0].payload["TargetHealth"]["Reason"] == "Target.HealthCheckDisabled"
    assert first[0].payload["Native"]["id"] == "0aa23a52-1ac2-4a2d-8dfa-1e11cb26079d"
    assert "/v3/hw-project/elb/pools/pool-1/members" in fake.calls[0]["path"]

    online = copy.deepcopy(members)
    for member in online["members"]:
        member["operating_status"] = "ONLINE"
    script.step(lambda: fake.answer("ListMembers", online))
    offline = copy.deepcopy(online)
    offline["members"][0]["operating_status"] = "OFFLINE"
    del offline["members"][2]
    script.step(lambda: fake.answer("ListMembers", offline))

    later = script.transitions()[3:]
    assert [
        (o.op, o.payload["Target"]["Port"], o.payload["TargetHealth"]["State"]) for o in later
    ] == [
        ("MODIFIED", 2100, "healthy"),
        ("MODIFIED", 2101, "healthy"),
        ("MODIFIED", 2101, "healthy"),
        ("MODIFIED", 2100, "unhealthy"),
        ("DELETED", 2101, "healthy"),
    ]
    changes = [script.changes[0]] * 3 + [script.changes[1]] * 2
    assert all(in_bounds(o, c) for o, c in zip(later, changes, strict=True))
    no_secret_stored(engine)


def test_a_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "alibabacloud_slb20140515", None)
    with pytest.raises(MissingExtra) as raised:
        AlibabaSlbClient(load_balancer_id="lb", vserver_group_id="rsp", region="cn-hangzhou")
    said = str(raised.value)
    assert "pip install 'gapwatch[alibaba]'" in said, said
    # the recorder image has no pip: the message names the build argument that brings the SDK
    assert "--build-arg EXTRAS=alibaba" in said, said


def test_huawei_members_are_read_page_by_page(fake: FakeCloud, engine: Engine) -> None:
    members = fixture("otc-huawei-elb-v3-list-members-response.json")
    first, second = copy.deepcopy(members), copy.deepcopy(members)
    first["members"], second["members"] = members["members"][:2], members["members"][2:]
    first["page_info"] = {"next_marker": members["members"][1]["id"], "current_count": 2}
    second["page_info"] = {"previous_marker": members["members"][1]["id"], "current_count": 1}
    fake.answer("ListMembers", lambda path: second if "marker=" in path else first)
    source = make_source(
        "huawei-elb",
        lambda count: HuaweiElbClient(pool_id="pool-1", endpoint=fake.url, count=count),
    )
    look(source, engine)
    assert len(stored(engine)) == 3 and fake.count("ListMembers") == 2
    assert f"marker={members['members'][1]['id']}" in fake.calls[1]["path"]
