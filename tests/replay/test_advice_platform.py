"""The advice names a cloud's own knob only where the Service's nodes run on that cloud (their
`spec.providerID`, replay/platform.py): the demo's `seed` cluster, AWS nodes behind an
endpoint-driven LB, was told to set Tencent TKE's `enable-grace-shutdown` annotation, which AWS
has not. Nodes whose providerID names no cloud keep every cloud's knob, each labelled."""

from __future__ import annotations

import copy
from dataclasses import replace

import orjson
import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.replay.advise import advise
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.platform import cloud_of
from tests.importers.helpers import FIXTURES


def test_real_provider_ids_name_their_cloud() -> None:
    """The kops NodeList captured from AWS (tests/fixtures/importers, SOURCES.md there) and the
    forms each other cloud's CCM writes (recorder/sources/lb/nodemap.py); minikube writes none."""
    nodes = orjson.loads((FIXTURES / "aws-kops-nodelist-2nodes.json").read_bytes())["items"]
    assert {cloud_of(n["spec"]["providerID"]) for n in nodes} == {"aws"}
    minikube = orjson.loads((FIXTURES / "k9s-node-minikube.json").read_bytes())
    assert "providerID" not in minikube["spec"]
    assert cloud_of("qcloud:///800002/ins-3kf8d2lj") == "tencent"
    assert cloud_of("cn-hangzhou.i-bp1a2b3c4d5e6f7g8h9") == "alibaba"
    assert cloud_of("huaweicloud://cn-north-4a/5b8d2b0e-4a4b-4c5e-9f6a-0c1d2e3f4a5b") == "huawei"
    assert cloud_of("gce://my-project/us-central1-a/gke-pool-1") == "gcp"
    assert cloud_of("kind://docker/kind/kind-worker") is None


def _nodes_on(observations: list[Observation], provider: str | None) -> list[Observation]:
    out = []
    for obs in observations:
        if obs.kind == "Node":
            payload = copy.deepcopy(obs.payload)
            spec = payload["spec"]
            if provider is None:
                spec.pop("providerID", None)
            else:
                spec["providerID"] = provider + spec["providerID"].rsplit("/", 1)[-1]
            obs = replace(obs, payload=payload)
        out.append(obs)
    return out


@pytest.mark.parametrize(
    ("provider", "tencent"),
    [("aws:///us-east-1a/", False), ("qcloud:///800002/", True), (None, True)],
)
def test_the_tencent_knob_only_where_the_nodes_may_be_tencent(
    provider: str | None, tencent: bool
) -> None:
    observations = _nodes_on(run(load_scenario("seed-3node"), seed=1).observations, provider)
    facts = [f for i, obs in enumerate(observations, 1) for f in derive(i, obs)]
    state = fold(FoldState(), facts)
    (svc,) = lb_facing(state)
    advice = advise(state, svc)
    assert advice.settings.prestop_s is not None and advice.settings.ccm_register_delay_s
    assert any("enable-grace-shutdown" in k for k in advice.knobs) is tencent
    (delay,) = [k for k in advice.knobs if k.startswith("registration delay")]
    assert ("Tencent TKE" in delay) is tencent
    assert "readiness gate" in delay and "minReadySeconds" in delay
