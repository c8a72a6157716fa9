"""The lab's Alibaba SLB, Tencent CLB and Huawei ELB v3 fakes (recorder/lab/fakes/fakeclouds.py)
over real HTTP, with each cloud's official SDK inside the real pollers' clients
(recorder/sources/lb/): a correctly signed request is answered, a wrongly signed one is refused
with the cloud's own error (the client raises it as LbApiError), throttling reads as `Throttled`,
and the members the lab sets are what the poller reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from gapwatch.recorder.lab.cloudlb import ABSENT, CloudTargets, lb_of_scenario
from gapwatch.recorder.lab.fakes.cloudanswers import Member, huawei_members
from gapwatch.recorder.lab.fakes.cloudsign import WireRequest
from gapwatch.recorder.lab.fakes.fakeclouds import CREDENTIALS, CloudLbFake
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.shape import GroupLook, LbApiError, Throttled

HEALTHY = {"alibaba": "normal", "tencent": "Alive", "huawei": "ONLINE"}
#: what each cloud calls a signature its server computed differently
SIGNATURE_ERROR = {
    "alibaba": "SignatureDoesNotMatch",
    "tencent": "AuthFailure.SignatureFailure",
    "huawei": "APIGW.0301",
}
SECRET_KEY = {
    "alibaba": "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "tencent": "TENCENTCLOUD_SECRET_KEY",
    "huawei": "HUAWEICLOUD_SDK_SK",
}


def use_credentials(monkeypatch: pytest.MonkeyPatch, **changed: str) -> None:
    """The lab's credentials in the environment (`changed`: some replaced). Alibaba's credentials
    library reads the environment once, at import: its copy is set too."""
    from alibabacloud_credentials.utils import auth_util

    env = {k: v for e in CREDENTIALS.values() for k, v in e.items()} | changed
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(auth_util, "environment_access_key_id", env["ALIBABA_CLOUD_ACCESS_KEY_ID"])
    secret = env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    monkeypatch.setattr(auth_util, "environment_access_key_secret", secret)


@pytest.fixture(params=["alibaba", "tencent", "huawei"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_credentials(monkeypatch)
    yield str(request.param)


def client(fake: CloudLbFake) -> Any:
    """The real poller's client for the fake, as the recorder builds it from its section."""
    from gapwatch.recorder.sources.lb.build import PLANS

    key, section = fake.section("ns/svc")
    return PLANS[key](section).adapter(lambda _op: None)


def poll(fake: CloudLbFake) -> list[GroupLook]:
    looks: list[GroupLook] = client(fake).poll()
    return looks


def member(cloud: str, n: int, weight: int = 10, health: str | None = None) -> Member:
    ip = f"127.0.0.{n}"
    ident = ip if cloud == "huawei" else f"ins-{n:08d}"
    return Member(ident, ip, 32000 + n, weight, health or HEALTHY[cloud])


def test_a_correctly_signed_poll_reads_the_members_the_lab_set(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        fake.set_member(member(cloud, 2, weight=0))
        (look,) = poll(fake)
        got = sorted((t.id, t.port, t.state, t.weight, t.ip) for t in look.targets)
        first, second = member(cloud, 1), member(cloud, 2)
        assert got == [
            (first.ident, 32001, "healthy", 10, "127.0.0.1"),
            (second.ident, 32002, "draining", 0, "127.0.0.2"),
        ]
        fake.remove_member(first.ident, first.port)
        (look,) = poll(fake)
        assert [t.id for t in look.targets] == [second.ident]
        assert all(code is None for _action, code in fake.calls), fake.calls


def test_a_request_signed_with_the_wrong_secret_is_refused(
    cloud: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_credentials(monkeypatch, **{SECRET_KEY[cloud]: "not-the-secret"})
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        with pytest.raises(LbApiError) as refused:
            poll(fake)
        assert refused.value.code == SIGNATURE_ERROR[cloud], refused.value
        assert not isinstance(refused.value, Throttled)
        assert fake.calls[0][1] == SIGNATURE_ERROR[cloud]


def captured(fake: CloudLbFake) -> list[WireRequest]:
    """Every request the fake receives, as it arrived."""
    seen: list[WireRequest] = []
    respond = fake.respond

    def keep(req: WireRequest) -> tuple[int, dict[str, Any]]:
        seen.append(req)
        return respond(req)

    fake.respond = keep  # type: ignore[method-assign]
    return seen


TAMPER: dict[str, Callable[[WireRequest], WireRequest]] = {
    # another vServer group than the one signed for
    "alibaba": lambda r: replace(r, target=r.target.replace("rsp-bp1labgroup", "rsp-other")),
    # another body than the one signed
    "tencent": lambda r: replace(r, body=r.body.replace(b"lb-labfake1", b"lb-labfake2")),
    # another page than the one signed
    "huawei": lambda r: replace(r, target=r.target + "&marker=x"),
}


def test_a_request_changed_after_signing_is_refused(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        seen = captured(fake)
        poll(fake)
        # the look's first request the change applies to (Alibaba's asks for the group)
        signed = next(r for r in seen if TAMPER[cloud](r) != r)
        status, body = fake.respond(TAMPER[cloud](signed))
        assert SIGNATURE_ERROR[cloud] in str(body), body
        assert status == {"alibaba": 400, "tencent": 200, "huawei": 401}[cloud]
        # the same request unchanged is answered
        status, body = fake.respond(signed)
        assert status == 200 and "Error" not in str(body) and "error_code" not in body


@pytest.mark.parametrize("cloud", ["tencent", "huawei"])  # ACS3 guards replays by its nonce
def test_a_stale_signature_is_refused(cloud: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_credentials(monkeypatch)
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        seen = captured(fake)
        poll(fake)
        fake.clock = lambda: time.time() + 3600  # the server's clock an hour on
        status, body = fake.respond(seen[0])
        assert status in (200, 401)
        assert {"tencent": "AuthFailure.SignatureExpire", "huawei": "APIGW.0301"}[cloud] in str(
            body
        )


def test_throttling_reads_as_throttled(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        fake.throttle(1)
        with pytest.raises(Throttled):
            poll(fake)
        assert len(poll(fake)[0].targets) == 1


def test_huawei_pages_follow_the_marker() -> None:
    members = [member("huawei", n) for n in range(1, 6)]
    seen: list[str] = []
    marker = None
    while True:
        page = huawei_members("p", members, limit=2, marker=marker, rid="r")
        seen += [m["address"] for m in page["members"]]
        marker = page["page_info"].get("next_marker")
        if marker is None:
            break
    assert sorted(seen) == sorted(m.ip for m in members) and len(seen) == 5


def obs(op: str, state: str, weight0: bool = False) -> Observation:
    payload: dict[str, Any] = {
        "Target": {"Id": "i-0sim1", "Port": 32999},
        "TargetHealth": {"State": state},
    }
    if weight0:
        payload["Weight"] = 0
    return Observation(
        source="lb-poller",
        kind="TargetHealth",
        op=op,
        cluster="c",
        observed_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload=payload,
        node="NODE1",
    )


def test_the_simulated_ccm_drives_the_members_and_names_the_recorded_states() -> None:
    with CloudLbFake("alibaba", listener_port=80) as fake:
        targets = CloudTargets(fake, node_port=32999)
        ident, state = targets.apply(obs("ADDED", "initial"), "127.0.0.9")
        assert state == "unavailable"  # Alibaba has no `initial`: no check has answered yet
        assert [(m.ident, m.health, m.weight) for m in fake.members()] == [
            (ident, "unavailable", 100)
        ]
        assert targets.apply(obs("MODIFIED", "healthy"), "127.0.0.9") == (ident, "healthy")
        assert targets.apply(obs("MODIFIED", "draining", weight0=True), "127.0.0.9") == (
            ident,
            "draining",
        )
        assert [(m.health, m.weight) for m in fake.members()] == [("normal", 0)]
        # deregistered: no deregistration-delay state on this cloud, the member leaves
        assert targets.apply(obs("MODIFIED", "draining"), "127.0.0.9") == (ident, ABSENT)
        assert fake.members() == []
        assert targets.provider_id("i-0sim1", "cn-hangzhou-h").endswith("." + ident)


def test_the_presets_choose_their_cloud() -> None:
    assert lb_of_scenario("alibaba-slb") == "alibaba"
    assert lb_of_scenario("tencent-clb-grace") == "tencent"
    assert lb_of_scenario("seed-3node") == "aws"
