"""A small AWS world in moto: a VPC, instances as nodes, one target group per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from gapwatch.recorder.sources.view import NodeInfo

REGION = "eu-west-1"
SERVICE_TAG = ("service.k8s.aws/stack", "istio-system/istio-ingressgateway")


@dataclass
class AwsWorld:
    elb: Any
    ec2: Any
    arn: str
    instances: list[str]
    ips: list[str]

    def nodes(self) -> list[NodeInfo]:
        """Nodes as the Kubernetes API shows them: providerID and InternalIP per instance."""
        return [
            NodeInfo(
                name=f"node-{i}",
                addresses=(("InternalIP", ip),),
                provider_id=f"aws:///{REGION}a/{ident}",
            )
            for i, (ident, ip) in enumerate(zip(self.instances, self.ips, strict=True))
        ]

    def register(self, *idx: int, port: int = 32999) -> None:
        targets = [{"Id": self.instances[i], "Port": port} for i in idx]
        self.elb.register_targets(TargetGroupArn=self.arn, Targets=targets)

    def deregister(self, *idx: int, port: int = 32999) -> None:
        targets = [{"Id": self.instances[i], "Port": port} for i in idx]
        self.elb.deregister_targets(TargetGroupArn=self.arn, Targets=targets)


def make_world(moto_url: str, instances: int = 3, tags: bool = True) -> AwsWorld:
    ec2 = boto3.client("ec2", endpoint_url=moto_url, region_name=REGION)
    elb = boto3.client("elbv2", endpoint_url=moto_url, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    made = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=instances, MaxCount=instances, SubnetId=subnet
    )["Instances"]
    extra: dict[str, Any] = {}
    if tags:
        extra["Tags"] = [{"Key": SERVICE_TAG[0], "Value": SERVICE_TAG[1]}]
    tg = elb.create_target_group(
        Name="k8s-" + uuid.uuid4().hex[:12],
        Protocol="TCP",
        Port=32999,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckProtocol="HTTP",
        HealthCheckPort="31805",
        HealthCheckPath="/healthz",
        HealthCheckIntervalSeconds=10,
        HealthyThresholdCount=3,
        UnhealthyThresholdCount=3,
        **extra,
    )["TargetGroups"][0]
    return AwsWorld(
        elb=elb,
        ec2=ec2,
        arn=tg["TargetGroupArn"],
        instances=[i["InstanceId"] for i in made],
        ips=[i["PrivateIpAddress"] for i in made],
    )
