"""kube-proxy's /healthz lastUpdated read as upstream writes it (kubernetes/kubernetes#83498):
a 200 says lastUpdated = currentTime (no sync time: not read), a 503 the real last sync, which
replay reads as "nothing kube-proxy received after it is programmed yet", never as "done".
Over real HTTP from the fake kube-proxies, and from hand-built bodies; a bad value is an
ignored fact with its reason, never an exception."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gapwatch.recorder.gotime import ZERO_US, format_go_time, read_go_time
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.payloads import http_payload
from gapwatch.recorder.sources.kubeproxy.targets import Target
from gapwatch.recorder.sources.kubeproxy.tracker import TargetKey
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, SyncLook, fold
from gapwatch.replay.signals import Step
from gapwatch.replay.syncs import programmed
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base

AT = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
AT_US = to_micros(AT)


def _observation(payload: dict[str, Any], at: datetime = AT) -> Observation:
    return Observation(
        observed_at=at, cluster="c", source="kube-proxy-probe", kind="ProxyNodeHealth",
        op="OBSERVED", payload=payload, node="node-1",
    )  # fmt: skip


def _look(fakes: FakeKubeProxies, path: str) -> dict[str, Any]:
    node = fakes.nodes[0]
    key = TargetKey("ProxyNodeHealth", node.name, path=path)
    target = Target(key, node.address, fakes.healthz_port, "http", path)

    async def once() -> dict[str, Any]:
        async with ProbeClient(timeout_s=2, concurrency=1) as client:
            return http_payload(target, await client.get(target.url))

    return asyncio.run(once())


def _times(payload: dict[str, Any]) -> tuple[int | None, int | None]:
    body = payload["body"]
    return read_go_time(body["lastUpdated"]).us, read_go_time(body["currentTime"]).us


def test_over_http_a_200_says_now_and_a_503_the_last_sync() -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        synced_at = fakes.nodes[0].synced_at
        assert synced_at is not None
        healthy = {path: _look(fakes, path) for path in ("/healthz", "/livez")}
        fakes.set_proxy_healthy("node-1", False)  # a change queued, not synced in time
        stale = {path: _look(fakes, path) for path in ("/healthz", "/livez")}
        fakes.set_proxy_healthy("node-1", True)
        synced_again = fakes.nodes[0].synced_at
    for payload in healthy.values():
        last, now = _times(payload)
        assert payload["status"] == 200 and last == now is not None
        assert derive(1, _observation(payload)) == []  # a 200's lastUpdated is not read
    for path, payload in stale.items():
        last, now = _times(payload)
        assert payload["status"] == 503 and payload["path"] == path
        assert last == round(synced_at * 1e6) and now is not None and now > last
        (fact,) = derive(2, _observation(payload))
        assert fact.fact == "sync" and fact.state == "unsynced" and fact.text1 == path
        # the last sync on the prober's clock: the observation's time less its age
        assert fact.num1 == AT_US - (now - last)
        latency_us = round(payload["latency_ms"] * 1000)
        assert fact.at_us == AT_US - latency_us
    assert synced_again is not None and synced_again > synced_at


def test_over_http_an_ineligible_node_is_503_on_healthz_only() -> None:
    """KEP-3836: /healthz answers 503 for a node being deleted while the proxy itself is healthy;
    lastUpdated is then the last sync too, /livez ignores eligibility."""
    with FakeKubeProxies(1, base=random_loopback_base(), node_eligible=False) as fakes:
        synced_at = fakes.nodes[0].synced_at
        healthz, livez = _look(fakes, "/healthz"), _look(fakes, "/livez")
    assert healthz["status"] == 503 and healthz["body"]["nodeEligible"] is False
    assert synced_at is not None and _times(healthz)[0] == round(synced_at * 1e6)
    assert livez["status"] == 200 and _times(livez)[0] == _times(livez)[1]


def _payload(status: int, body: Any, latency_ms: Any = 2.0) -> dict[str, Any]:
    return {"path": "/healthz", "status": status, "body": body, "error": None,
            "port": 10256, "latency_ms": latency_ms, "look": "change"}  # fmt: skip


def _go(at: datetime) -> str:
    return format_go_time(to_micros(at), monotonic_us=5_000_000)


def test_a_hand_built_503_gives_the_last_sync_on_the_probers_clock() -> None:
    # kube-proxy's clock 7 s ahead of the prober's: only the difference of its two times counts
    kp_now = AT + timedelta(seconds=7)
    body = {"lastUpdated": _go(kp_now - timedelta(seconds=90)), "currentTime": _go(kp_now),
            "nodeEligible": True}  # fmt: skip
    (fact,) = derive(1, _observation(_payload(503, body, latency_ms=3.5)))
    assert (fact.state, fact.num1, fact.at_us) == ("unsynced", AT_US - 90_000_000, AT_US - 3500)
    # no latency recorded (or garbage there): the observation's own time
    for latency in (None, "fast", float("nan"), True):
        (fact,) = derive(1, _observation(_payload(503, body, latency_ms=latency)))
        assert fact.at_us == AT_US


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"lastUpdated": format_go_time(ZERO_US), "currentTime": _go(AT)},
         "lastUpdated is Go's zero time"),
        ({"lastUpdated": "2026-01-01T00:00:00Z", "currentTime": _go(AT)},
         "lastUpdated: not Go's time.Time.String() form"),
        ({"lastUpdated": _go(AT), "currentTime": 17}, "currentTime: not a string: int"),
        ({"lastUpdated": _go(AT + timedelta(seconds=1)), "currentTime": _go(AT)},
         "lastUpdated is after currentTime"),
        ({"currentTime": _go(AT)}, "lastUpdated: not a string: NoneType"),
        (None, "lastUpdated: not a string: NoneType"),  # the body was not JSON (body_text)
        (["not", "an", "object"], "lastUpdated: not a string: NoneType"),
    ],
)  # fmt: skip
def test_a_503_that_cannot_be_read_is_an_ignored_fact_with_its_reason(
    body: Any, reason: str
) -> None:
    (fact,) = derive(1, _observation(_payload(503, body)))
    assert fact.fact == "sync" and fact.state == "ignored" and fact.num1 is None
    assert fact.text2 is not None and fact.text2.startswith(reason)
    state = fold(FoldState(), [fact])
    assert state.syncs == {}  # nothing read from it


def test_a_200_or_a_refused_look_gives_no_fact() -> None:
    body = {"lastUpdated": _go(AT - timedelta(hours=1)), "currentTime": _go(AT)}
    assert derive(1, _observation(_payload(200, body))) == []
    refused = {**_payload(0, None), "status": None, "error": "refused"}
    assert derive(1, _observation(refused)) == []


def _unsynced_fact(event_id: int, at: datetime, age_s: float) -> Fact:
    body = {"lastUpdated": _go(at - timedelta(seconds=age_s)), "currentTime": _go(at)}
    (fact,) = derive(event_id, _observation(_payload(503, body, latency_ms=0), at))
    return fact


def test_replay_reads_a_503_as_not_yet_never_as_done() -> None:
    """An endpoints change at T (assumed programmed 0-60 s later). 503 looks at T+20 s and
    T+40 s say kube-proxy has not synced since before T: the change was not programmed at
    T+40 s. They never say when it was: the latest bound stays the assumption's."""
    change = AT_US
    facts = [
        _unsynced_fact(1, AT + timedelta(seconds=20), 30),
        _unsynced_fact(2, AT + timedelta(seconds=40), 50),
    ]
    looks = fold(FoldState(), facts).syncs[("c", "node-1")]
    assert [look.complete for look in looks] == [False, False]
    assert [look.synced_us for look in looks] == [change - 10_000_000] * 2
    (step,) = programmed([Step(change, change, True, 9)], looks, 0, 60_000_000, 1_000_000)
    assert step.earliest == change + 40_000_000 and step.latest == change + 60_000_000
    # the same times from kube-proxy's metrics (queued before the sync) would say "done"
    done = [SyncLook(change + 45_000_000, change + 44_000_000, change + 1, 3)]
    (step,) = programmed([Step(change, change, True, 9)], looks + done, 0, 60_000_000, 1_000_000)
    assert (step.earliest, step.latest) == (change + 40_000_000, change + 44_000_000)


def test_a_503_with_a_sync_after_the_change_says_nothing_about_it() -> None:
    """kube-proxy synced 5 s after the change (then something else stayed queued): the look
    does not show the change pending, so the assumption's bounds stay."""
    change = AT_US
    looks = fold(FoldState(), [_unsynced_fact(1, AT + timedelta(seconds=30), 25)]).syncs
    (step,) = programmed(
        [Step(change, change, True, 9)], looks[("c", "node-1")], 0, 60_000_000, 1_000_000
    )
    assert (step.earliest, step.latest) == (change, change + 60_000_000)
