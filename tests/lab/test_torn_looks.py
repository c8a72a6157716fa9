"""A CCM binding or unbinding a member while a look is under way (recorder/sources/lb/joined.py).

Alibaba SLB and Tencent CLB answer membership and health in two calls; the lab's fake
(recorder/lab/fakes/fakeclouds.py) answers each from the members as they stand, as the clouds
do. Here the member changes right after the look's first call is answered, through the real
pollers' clients and the clouds' SDKs. The look must show the member as it was or as it is, with
the health the cloud reports: never bound with its health unknown, which the lab's Tencent run
stored as a second `draining` of TKE's weight-0 member (a transition to the state it had) before
its `DELETED` (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gapwatch.recorder.lab.fakes.cloudsign import WireRequest
from gapwatch.recorder.lab.fakes.fakeclouds import CloudLbFake
from gapwatch.recorder.sources.lb.shape import Target
from tests.lab.test_fakeclouds import client, member, use_credentials

#: the clouds whose look is two calls (Huawei's ListMembers is one answer)
TWO_CALLS = ["alibaba", "tencent"]
#: each cloud's health word for a member not yet checked, and the state its poller records
UNCHECKED = {"alibaba": ("unavailable", "unavailable"), "tencent": ("Unknown", "initial")}


@pytest.fixture(params=TWO_CALLS)
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    use_credentials(monkeypatch)
    return str(request.param)


def after_first_call(fake: CloudLbFake, change: Callable[[], None]) -> list[str]:
    """Make `change` on the fake right after the next request is answered; returns the actions
    asked from then on, in order."""
    respond, actions = fake.respond, []

    def then_change(req: WireRequest) -> tuple[int, dict[str, Any]]:
        answer = respond(req)
        actions.append(fake.calls[-1][0])
        if len(actions) == 1:
            change()
        return answer

    fake.respond = then_change  # type: ignore[method-assign]
    return actions


def targets(fake: CloudLbFake) -> dict[str, Target]:
    (look,) = client(fake).poll()
    return {t.id: t for t in look.targets}


def test_a_member_unbound_during_a_look_is_not_left_with_its_health_unknown(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        staying, leaving = member(cloud, 1), member(cloud, 2, weight=0)  # TKE's grace shutdown
        fake.set_member(staying)
        fake.set_member(leaving)
        assert targets(fake)[leaving.ident].state == "draining"
        after_first_call(fake, lambda: fake.remove_member(leaving.ident, leaving.port))
        seen = targets(fake)
        assert staying.ident in seen
        # gone (the look's newer answer) or, were it still bound, as the cloud reported it
        if leaving.ident in seen:
            assert seen[leaving.ident].description is not None, seen[leaving.ident]
        assert all(t.reason != "Target.HealthUnknown" for t in seen.values()), seen
        assert all(code is None for _action, code in fake.calls), fake.calls


def test_a_member_bound_during_a_look_has_the_health_the_cloud_reports(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        word, recorded = UNCHECKED[cloud]
        joining = member(cloud, 3, health=word)
        asked = after_first_call(fake, lambda: fake.set_member(joining))
        seen = targets(fake)
        # the members are the look's newer answer; the health it lacked is read once more
        assert seen[joining.ident].state == recorded, seen[joining.ident]
        assert seen[joining.ident].reason != "Target.HealthUnknown"
        assert len(asked) == 3, asked


def test_a_look_nothing_changes_in_makes_two_calls(cloud: str) -> None:
    with CloudLbFake(cloud, listener_port=80) as fake:
        fake.set_member(member(cloud, 1))
        asked = after_first_call(fake, lambda: None)
        assert targets(fake)[member(cloud, 1).ident].state == "healthy"
        assert len(asked) == 2, asked
