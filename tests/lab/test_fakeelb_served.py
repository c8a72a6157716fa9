"""moto's proxy in the lab keeps every DescribeTargetHealth it answered, with each member's state
as the poller got it (recorder/lab/fakes/fakeelb.py `served`): the ledger's test of whether a
poller could have seen an LB state (ledger.py `served`). A throttled call answered nothing.
moto's server over real HTTP, boto3 pointed at the proxy."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gapwatch.recorder.lab.fakes.fakeelb import HealthProxy
from tests.lb import conftest as lb
from tests.lb.awsworld import REGION, make_world

#: moto's server, once per module (tests/lb/conftest.py's fixture)
moto_url = lb.moto_url


def test_every_answer_is_kept_with_each_members_state(moto_url: str) -> None:
    world = make_world(moto_url, instances=2)
    world.register(0, 1)
    a, b = world.instances
    with HealthProxy(moto_url) as proxy:
        elb = boto3.client(
            "elbv2",
            endpoint_url=proxy.url,
            region_name=REGION,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        began = time.time()
        elb.describe_target_health(TargetGroupArn=world.arn)
        proxy.set_health(a, "unhealthy", "Target.FailedHealthChecks")
        elb.describe_target_health(TargetGroupArn=world.arn)
        proxy.throttle(1)
        with pytest.raises(ClientError, match="Throttling"):
            elb.describe_target_health(TargetGroupArn=world.arn)
        world.deregister(1)
        elb.describe_target_health(TargetGroupArn=world.arn)
        elb.describe_target_groups(TargetGroupArns=[world.arn])  # no health in it
    assert [members for _at, members in proxy.served] == [
        {a: "healthy", b: "healthy"},
        {a: "unhealthy", b: "healthy"},
        {a: "unhealthy"},
    ]
    times = [at for at, _ in proxy.served]
    assert times == sorted(times) and began <= times[0] <= time.time()
