"""The lab's cluster: the fakes every gapwatch source talks to, and how one simulated observation
becomes a change on them.

- the fake kube-apiserver (fakes.fakeapi) gets every Kubernetes object change the simulator's
  watch saw, as a create/update/delete (it assigns its own resourceVersions);
- one fake kube-proxy per simulated node (fakes.fakeproxy) on its own loopback address
  (127.X.Y.10, .11, ...), listening on the Service's real healthCheckNodePort; the Node objects
  are served with that address as their InternalIP, so the prober finds them as it would in a
  cluster. Its answers follow the simulator's health-check answers (200 with N local endpoints,
  503, refused, hanging);
- moto's ELBv2 server behind fakes.fakeelb.HealthProxy: one VPC, one EC2 instance per node (the
  Nodes' providerIDs name them), one target group; registrations follow the simulated CCM, the
  health states moto cannot produce (draining, initial, unhealthy) are rewritten by the proxy;
- or, for `lb` alibaba, tencent or huawei, that cloud's LB API (fakes.fakeclouds, through
  cloudlb.CloudTargets): the Nodes' providerIDs are that cloud's, the members follow the CCM.
"""

from __future__ import annotations

import random
import threading
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gapwatch.recorder.lab.cloudlb import ABSENT, LB_CHOICES, CloudTargets
from gapwatch.recorder.lab.fakes.fakeapi import FakeApiServer
from gapwatch.recorder.lab.fakes.fakeclouds import CloudLbFake
from gapwatch.recorder.lab.fakes.fakeelb import HealthProxy, MotoProcess
from gapwatch.recorder.lab.fakes.fakeproxy import FakeKubeProxies, free_port
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.providers import instance_of
from gapwatch.recorder.sim.scenario import Scenario

#: Credentials the boto3 chain reads; moto checks none of them (the lab's recorder gets these).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "lab",
    "AWS_SECRET_ACCESS_KEY": "lab-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
REGION = "us-east-1"
__all__ = ["ABSENT", "AWS_ENV", "REGION", "LabWorld"]


def proxy_state(mode: str, local_endpoints: int) -> tuple[Any, Any]:
    """What a health-check probe of a fake kube-proxy in `mode` reads: (status, endpoints) or
    (None, error), as the prober stores it (ledger.py compares the two)."""
    if mode == "refuse":
        return None, "refused"
    if mode == "hang":
        return None, "timeout"
    count = local_endpoints if mode == "healthy" else 0
    return (200 if count else 503), count


def loopback_base(rng: random.Random) -> str:
    """127.X.Y.: two labs (or a lab and the tests) on one machine do not share fake nodes."""
    return f"127.{rng.randint(20, 250)}.{rng.randint(20, 250)}."


class LabWorld:
    """`with LabWorld(scenario, rng, workdir, lb) as world:`; then `world.apply(obs)` in time
    order. `lb`: `aws` (moto's ELBv2) or a cloud of fakes.cloudanswers.CLOUDS."""

    def __init__(
        self, scenario: Scenario, rng: random.Random, workdir: Path, lb: str = "aws"
    ) -> None:
        if lb not in LB_CHOICES:
            raise ValueError(f"unknown load balancer {lb!r}: one of {', '.join(LB_CHOICES)}")
        self.scenario = scenario
        self.lb = lb
        #: the other clouds' LB (None: moto's ELBv2)
        self.cloud: CloudTargets | None = None
        self.moto = MotoProcess(workdir / "moto.log")
        self.names = list(scenario.node_names())
        self.service = f"{scenario.service.namespace}/{scenario.service.name}"
        self._stack = ExitStack()
        self.api = FakeApiServer(bookmark_interval=0.5)
        base = loopback_base(rng)
        first = 10
        addresses = [f"{base}{first + i}" for i in range(len(self.names))]
        hc_port = scenario.service.health_check_node_port or free_port(addresses)
        ports = (hc_port, free_port(addresses), free_port(addresses))
        self.proxies = FakeKubeProxies(
            len(self.names),
            base=base,
            first=first,
            names=self.names,
            ports=ports,
            namespace=scenario.service.namespace,
            service=scenario.service.name,
            local_endpoints=0,
            mode="unhealthy",
        )
        self.address = {n.name: n.address for n in self.proxies.nodes}
        #: what each fake kube-proxy answers before the script's first change (the ledger's
        #: `initial`)
        self.proxy_initial = {
            n.name: proxy_state(n.mode, n.local_endpoints) for n in self.proxies.nodes
        }
        self.moto_url = ""
        self.elb: HealthProxy | None = None
        self.target_group = ""
        self._elbv2: Any = None
        self._ec2: Any = None
        self._subnet = ""
        #: the simulator's instance ids -> moto's
        self.instances: dict[str, str] = {}
        #: what the fakes were made to answer, for the ledger: (simulated s, key, state)
        self.proxy_log: list[tuple[float, str, tuple[Any, Any]]] = []
        #: node -> the mode a fault forces on its health port (probe-timeout, probe-refused);
        #: the script's changes meanwhile only move its endpoint count
        self.forced: dict[str, str] = {}
        #: node -> the mode the script last asked for
        self.scripted: dict[str, str] = {}
        self._proxy_lock = threading.Lock()
        self.target_log: list[tuple[float, str, str]] = []

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LabWorld:
        try:
            self._stack.enter_context(self.api)
            self._stack.enter_context(self.proxies)
            if self.lb == "aws":
                self.start_moto()
            else:
                port = self.scenario.service.node_port
                fake = self._stack.enter_context(CloudLbFake(self.lb, listener_port=80))
                self.cloud = CloudTargets(fake, node_port=port)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def start_moto(self) -> None:
        import boto3

        self.moto_url = self._stack.enter_context(self.moto).url
        self.elb = self._stack.enter_context(HealthProxy(self.moto_url))
        kwargs: dict[str, Any] = {
            "endpoint_url": self.moto_url,
            "region_name": REGION,
            "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        }
        self._ec2 = boto3.client("ec2", **kwargs)
        self._elbv2 = boto3.client("elbv2", **kwargs)
        vpc = self._ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = self._ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/20")["Subnet"]
        self._subnet = subnet["SubnetId"]
        s = self.scenario.service
        group = self._elbv2.create_target_group(
            Name="k8s-lab-" + uuid.uuid4().hex[:12],
            Protocol="TCP",
            Port=s.node_port,
            VpcId=vpc,
            TargetType="instance",
            HealthCheckProtocol="HTTP",
            HealthCheckPort=str(s.health_check_node_port or s.node_port),
            HealthCheckPath="/healthz",
        )["TargetGroups"][0]
        self.target_group = group["TargetGroupArn"]

    # --- the simulated cluster -> the fakes --------------------------------------------------
    def instance(self, sim_id: str) -> str:
        """moto's instance for a simulated instance id (launched on first use)."""
        if sim_id not in self.instances:
            made = self._ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=self._subnet
            )
            self.instances[sim_id] = made["Instances"][0]["InstanceId"]
        return self.instances[sim_id]

    def node_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A simulated Node as the lab serves it: its fake kube-proxy's address, moto's id."""
        name = obj["metadata"]["name"]
        status = dict(obj.get("status") or {})
        if name in self.address:
            status["addresses"] = [
                {"type": "InternalIP", "address": self.address[name]},
                {"type": "Hostname", "address": name},
            ]
        spec = dict(obj.get("spec") or {})
        provider = spec.get("providerID")
        if isinstance(provider, str) and provider:
            # the simulated instance (its TargetHealth's Target.Id), as the scenario's cloud
            # wrote it (recorder.sim.providers), becomes one of the lab's LB cloud
            sim_id = instance_of(provider)
            labels = obj["metadata"].get("labels") or {}
            zone = str(labels.get("topology.kubernetes.io/zone") or "zone-1")
            if self.cloud is not None:
                spec["providerID"] = self.cloud.provider_id(sim_id, zone)
            else:
                spec["providerID"] = f"aws:///{zone}/{self.instance(sim_id)}"
        return {**obj, "spec": spec, "status": status}

    def apply(self, obs: Observation, at_s: float) -> None:
        """Make the change `obs` saw happen on the fakes (at simulated second `at_s`)."""
        if obs.source == "k8s-watch":
            self._k8s(obs)
        elif obs.kind == "ProxyHealth":
            self._proxy(obs, at_s)
        elif obs.kind == "TargetHealth" and obs.op != "OBSERVED":
            self._target(obs, at_s)

    def _k8s(self, obs: Observation) -> None:
        obj = dict(obs.payload)
        if obs.kind == "Node":
            obj = self.node_object(obj)
        meta = obj.get("metadata") or {}
        if obs.op == "DELETED":
            self.api.delete(obs.kind, meta.get("namespace"), meta["name"])
        elif obs.op == "ADDED":
            self.api.create(obs.kind, obj)
        else:
            self.api.update(obs.kind, obj)

    def _proxy(self, obs: Observation, at_s: float) -> None:
        if obs.node is None or obs.node not in self.address:
            return
        status, body = obs.payload.get("status"), obs.payload.get("body") or {}
        node = self.proxies.node(obs.node)
        if status is None:
            mode = "refuse" if obs.payload.get("error") == "refused" else "hang"
        else:
            node.local_endpoints = int(body.get("localEndpoints") or 0)
            mode = "healthy" if status == 200 else "unhealthy"
        with self._proxy_lock:
            self.scripted[obs.node] = mode
            self._set_proxy(obs.node, self.forced.get(obs.node, mode), at_s)

    def _set_proxy(self, name: str, mode: str, at_s: float) -> None:
        node = self.proxies.node(name)
        if mode != node.mode:
            self.proxies.set_mode(name, mode)
        self.proxy_log.append((at_s, name, proxy_state(mode, node.local_endpoints)))

    def force_proxy(self, name: str, mode: str | None, at_s: float) -> None:
        """From simulated second `at_s`, `name`'s health port answers as `mode` (`hang`,
        `refuse`) whatever the script says; None: as the script says again."""
        with self._proxy_lock:
            if mode is None:
                self.forced.pop(name, None)
                mode = self.scripted.get(name, self.proxies.node(name).mode)
            else:
                self.forced[name] = mode
            self._set_proxy(name, mode, at_s)

    def lb_env(self) -> dict[str, str]:
        """The credentials the recorders' LB poller reads from its environment."""
        return dict(self.cloud.env) if self.cloud is not None else dict(AWS_ENV)

    def lb_section(self, service: str, **poll: Any) -> tuple[str, dict[str, Any]]:
        """The recorders' LB poller: its configuration key and section."""
        if self.cloud is not None:
            return self.cloud.fake.section(service, **poll)
        assert self.elb is not None
        section = {
            "target_groups": [{"arn": self.target_group, "service": service}],
            "endpoint": self.elb.url,
            "region": REGION,
            **poll,
            # botocore's own retries back off in wall seconds (up to 20 s: minutes of
            # simulated time at 10x); the poller's backoff is at the lab's scale
            "max_attempts": 1,
        }
        return "elbv2", section

    def throttle_lb(self, times: int) -> None:
        """The LB API answers the next `times` calls with its throttling error."""
        api: Any = self.cloud.fake if self.cloud is not None else self.elb
        api.throttle(times)

    def _target(self, obs: Observation, at_s: float) -> None:
        if self.cloud is not None:
            address = self.address.get(obs.node) if obs.node is not None else None
            ident, state = self.cloud.apply(obs, address)
            self.target_log.append((at_s, ident, state))
            return
        assert self.elb is not None
        target = obs.payload["Target"]
        ident = self.instance(target["Id"])
        entry = [{"Id": ident, "Port": int(target.get("Port") or self.scenario.service.node_port)}]
        health = obs.payload.get("TargetHealth") or {}
        if obs.op == "DELETED":
            self._elbv2.deregister_targets(TargetGroupArn=self.target_group, Targets=entry)
            self.elb.clear_health(ident)
            self.target_log.append((at_s, ident, ABSENT))
            return
        if obs.op == "ADDED":
            self._elbv2.register_targets(TargetGroupArn=self.target_group, Targets=entry)
        state = health.get("State", "healthy")
        if state == "healthy":
            self.elb.clear_health(ident)
        else:
            self.elb.set_health(ident, state, health.get("Reason"), health.get("Description"))
        self.target_log.append((at_s, ident, state))
