"""The Alibaba, Tencent and Huawei pollers against answers no cloud API should send (session 36).

Real HTTP through each cloud's official SDK: an answer of another shape comes from
tests/lb/fakecloud.FakeCloud (a local HTTP fake of the three APIs); headers or a body that
trickle come from tests/lb/rawserver.py (a local TCP server scripting the bytes, the wire level).
What must hold: a failed look naming the call, the poller going on at its next look, and a look
that an endpoint cannot hold for longer than `answer_timeout_s`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.sources.lb.alibaba import AlibabaSlbClient
from gapwatch.recorder.sources.lb.build import plan_alibaba, plan_huawei, plan_tencent
from gapwatch.recorder.sources.lb.huawei import HuaweiElbClient
from gapwatch.recorder.sources.lb.poller import Adapter
from gapwatch.recorder.sources.lb.shape import LbApiError
from gapwatch.recorder.sources.lb.tencent import TencentClbClient
from tests.lb.fakecloud import FakeCloud, fixture
from tests.lb.harness import look, make_source, node, stored
from tests.lb.rawserver import RawServer, in_thread, until_gone

Factory = Callable[..., Adapter]


def alibaba(url: str, count: Callable[[str], None], **kw: Any) -> Adapter:
    return AlibabaSlbClient(
        load_balancer_id="lb-bp1b6c719dfa08exfuca5",
        vserver_group_id="rsp-cige6******",
        region="cn-hangzhou",
        endpoint=url,
        count=count,
        **kw,
    )


def tencent(url: str, count: Callable[[str], None], **kw: Any) -> Adapter:
    return TencentClbClient(
        load_balancer_id="lb-qc2iq5yc", region="ap-guangzhou", endpoint=url, count=count, **kw
    )


def huawei(url: str, count: Callable[[str], None], **kw: Any) -> Adapter:
    return HuaweiElbClient(pool_id="pool-1", endpoint=url, count=count, **kw)


#: cloud -> (client factory, the first call of a look, the real answers' fixtures by action)
CLOUDS: dict[str, tuple[Factory, str, dict[str, str]]] = {
    "alibaba-slb": (
        alibaba,
        "DescribeHealthStatus",
        {
            "DescribeHealthStatus": "alibaba-slb-DescribeHealthStatus.json",
            "DescribeVServerGroupAttribute": "alibaba-slb-DescribeVServerGroupAttribute.json",
        },
    ),
    "tencent-clb": (
        tencent,
        "DescribeTargetHealth",
        {
            "DescribeTargetHealth": "tencent-clb-DescribeTargetHealth-example1-output.json",
            "DescribeTargets": "tencent-clb-DescribeTargets-example2-output.json",
        },
    ),
    "huawei-elb": (
        huawei,
        "ListMembers",
        {"ListMembers": "otc-huawei-elb-v3-list-members-response.json"},
    ),
}
NODES = [
    node("node-232", "cn-hangzhou.vm-232"),
    node("tke-1", "qcloud:///800002/ins-19425y2y"),
    node("cce-1", None, "120.10.10.2"),
]
#: what each cloud's first call answers in the attack: valid JSON of another shape
OTHER_SHAPES = {
    "alibaba-slb": {"RequestId": "s36", "BackendServers": ["not", "an", "object"]},
    "tencent-clb": {"Response": {"RequestId": "s36", "LoadBalancers": "not a list"}},
    "huawei-elb": {"request_id": "s36", "page_info": {}},
}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_an_answer_of_another_shape_is_a_failed_look_and_the_poller_goes_on(
    cloud: str, engine: Engine
) -> None:
    """JSON whose fields are not where the cloud puts them (Huawei's `members` missing,
    Alibaba's `BackendServers` a list, Tencent's `LoadBalancers` a string). Alibaba's and
    Tencent's SDKs read an answer into their models inside the call, whose errors were already
    a failed look; Huawei's hands back what it got, and on main the `KeyError` of reading it
    went past the poller's `LbApiError` handling, out of the source's task: the recorder
    stopped. Now each is a failed look naming the call, and the next look records the group."""
    factory, first, fixtures = CLOUDS[cloud]
    with FakeCloud() as fake:
        for action, name in fixtures.items():
            fake.answer(action, fixture(name))
        fake.fail(first, 200, OTHER_SHAPES[cloud])
        source = make_source(cloud, lambda count: factory(fake.url, count), nodes=NODES)
        assert look(source, engine) == 0
        problem = source.ready() or ""
        assert source.failures == 1
        assert problem.startswith(f"{cloud} {first}: "), problem
        assert look(source, engine) >= 1
        assert source.failures == 0
    assert stored(engine)


#: cloud -> its members call, and what it answers in the attack without the members' field
NO_MEMBERS = {
    "alibaba-slb": ("DescribeVServerGroupAttribute", "RequestId", "BackendServers"),
    "tencent-clb": ("DescribeTargets", "RequestId", "Listeners"),
    "huawei-elb": ("ListMembers", "request_id", "members"),
}


@pytest.mark.parametrize("null", [False, True], ids=["absent", "null"])
@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_an_answer_without_the_members_field_is_a_failed_look_not_an_empty_group(
    cloud: str, null: bool, engine: Engine
) -> None:
    """The members call answering `{"RequestId": ..}` (the field absent) or the field null,
    after a look that recorded the group (tests/lb/fakecloud.py, real HTTP through each SDK).
    On main Alibaba's and Tencent's pollers read both as a group of no members, Huawei's a
    null `members` (its absent one was a failed look since session 36): the look recorded every
    member DELETED, so a hostile or broken endpoint emptied every group. A real empty group
    answers `{"BackendServer": []}` (Alibaba), `[]` (Tencent's `Listeners`, which its API never
    answers null; Huawei's `members`). Now a failed look naming the call, no member removed,
    and the next look goes on."""
    factory, _first, fixtures = CLOUDS[cloud]
    call, request_id, field = NO_MEMBERS[cloud]
    body: dict[str, Any] = {request_id: "s37", **({field: None} if null else {})}
    with FakeCloud() as fake:
        for action, name in fixtures.items():
            fake.answer(action, fixture(name))
        source = make_source(cloud, lambda count: factory(fake.url, count), nodes=NODES)
        assert look(source, engine) >= 1
        fake.fail(call, 200, {"Response": body} if cloud == "tencent-clb" else body)
        assert look(source, engine) == 0
        problem = source.ready() or ""
        assert problem == f"{cloud} {call}: not {cloud}'s answer: KeyError: '{field}'", problem
        assert source.failures == 1
        look(source, engine)
        assert source.failures == 0
    assert [o.op for o in stored(engine) if o.op == "DELETED"] == []


def trickled_headers(write: Callable[[bytes], None]) -> None:
    """A status line, then a header byte every 0.2 s for as long as the client reads."""
    write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
    while True:
        time.sleep(0.2)
        write(b"x")


def trickled_body(write: Callable[[bytes], None]) -> None:
    """Headers, the start of a JSON object, then a space every 0.2 s, chunk by chunk."""
    write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
    write(b'\r\n8\r\n{"x": 1 \r\n')
    while True:
        time.sleep(0.2)
        write(b"1\r\n \r\n")


def poll_once(client: Adapter, guard_s: float = 30) -> object:
    """`client.poll()` in a thread (`in_thread`, a hang guard of `guard_s`)."""
    return in_thread(client.poll, guard_s)


@pytest.mark.parametrize("answer", [trickled_headers, trickled_body], ids=["headers", "body"])
@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_an_answer_that_never_ends_is_refused_after_its_time(
    cloud: str, answer: Callable[[Callable[[bytes], None]], None]
) -> None:
    """Headers or a body sent a byte every 0.2 s, for ever: each read comes well within the
    SDK's per-read timeout (Tencent 60 s, Huawei 120 s, Alibaba's), which is all that bounded a
    call; on main the look was still waiting when the test gave up. Now the call is given up on
    after `answer_timeout_s` (1 s here), a failed look naming it."""
    factory, first, _fixtures = CLOUDS[cloud]
    with RawServer(answer) as server:
        client = factory(server.url, lambda _op: None, answer_seconds=1.0)
        outcome = poll_once(client)
        assert isinstance(outcome, LbApiError), outcome
        assert str(outcome) == (
            f"{cloud} {first}: no whole answer within 1 s: not waited for further"
        )


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
@pytest.mark.parametrize("trickled", [trickled_body, trickled_headers], ids=["body", "headers"])
def test_a_body_given_up_on_is_let_go_and_the_next_look_is_sent(
    cloud: str, trickled: Callable[[Callable[[bytes], None]], None]
) -> None:
    """A body, or the headers, a byte every 0.2 s, for ever: the call given up on kept its
    thread and socket as long as the endpoint sent (the body until session 37, the headers
    until session 38), and with `max_held` 1 every later look was refused before it sent. Now
    its socket is shut (the body's by urllib3's public `HTTPResponse.shutdown()`, the headers'
    through the connection it was sent on, lb/heldreads.py): the endpoint sees the client go,
    the thread ends, and the next look is sent (and given up on in turn). The waits are hang
    guards, not timings."""
    factory, first, _fixtures = CLOUDS[cloud]
    gone = threading.Event()
    with RawServer(until_gone(trickled, gone)) as server:
        client: Any = factory(server.url, lambda _op: None, answer_seconds=1.0, max_held=1)
        outcome = poll_once(client)
        assert (
            str(outcome) == f"{cloud} {first}: no whole answer within 1 s: not waited for further"
        )
        assert gone.wait(30), "the endpoint still holds the socket of the call given up on"
        held = client._calls.held
        for _ in range(300):  # the thread ends once the SDK has raised: a hang guard of 30 s
            if held.count == 0:
                break
            time.sleep(0.1)
        assert held.count == 0, "the thread of the call given up on is still held"
        again = poll_once(client)
        assert str(again) == f"{cloud} {first}: no whole answer within 1 s: not waited for further"
        assert server.requests == 2


@pytest.mark.parametrize(
    ("plan", "raw"),
    [
        (plan_alibaba, {"region": "r", "load_balancer_id": "lb", "vserver_group_id": "g"}),
        (plan_tencent, {"region": "r", "load_balancer_id": "lb"}),
        (plan_huawei, {"region": "r", "pool_id": "p"}),
    ],
    ids=["alibaba-slb", "tencent-clb", "huawei-elb"],
)
def test_answer_timeout_s_is_a_setting_of_each_cloud(plan: Any, raw: dict[str, Any]) -> None:
    """`answer_timeout_s` is read from each cloud's section; 0 is a config error naming it."""
    from gapwatch.recorder.errors import ConfigError

    plan({**raw, "answer_timeout_s": 5})
    with pytest.raises(ConfigError, match=r"\.answer_timeout_s: expected a number > 0"):
        plan({**raw, "answer_timeout_s": 0})


def html_of_a_megabyte(write: Callable[[bytes], None]) -> None:
    """A 200 whose body is 1 MB of HTML, not JSON (a captive portal, a proxy's error page)."""
    body = b"<html>" + b"x" * 1_000_000 + b"</html>"
    write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body))
    write(body)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_an_answer_that_is_not_json_is_named_not_repeated(cloud: str) -> None:
    """Alibaba's SDK puts the whole answer in its parse error (`Failed to parse the value as
    json format, Value: ...`); on main the failed look's text (the poller's log line, /readyz's
    reason) held the megabyte. Now an SDK's message is cut at 200 characters."""
    factory, first, _fixtures = CLOUDS[cloud]
    with RawServer(html_of_a_megabyte) as server:
        outcome = poll_once(factory(server.url, lambda _op: None))
    assert isinstance(outcome, LbApiError), outcome
    assert str(outcome).startswith(f"{cloud} {first}: ")
    assert len(str(outcome)) < 400, str(outcome)[:400]


def two_megabytes(write: Callable[[bytes], None]) -> None:
    """A 200 of valid JSON, one string of 2 MB, sent in 64 KB chunks."""
    write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    write(b"Transfer-Encoding: chunked\r\n\r\n")
    for piece in [b'{"Response": {"RequestId": "s36", "x": "', *[b"x" * 65536] * 32, b'"}}']:
        write(b"%x\r\n%s\r\n" % (len(piece), piece))
    write(b"0\r\n\r\n")


def gzip_of_64_mib(write: Callable[[bytes], None]) -> None:
    """`Content-Encoding: gzip`: 64 MiB of one JSON string decoded, some 64 KB on the wire."""
    body = gzip.compress(b'{"Response": {"x": "' + b"x" * (64 << 20) + b'"}}')
    write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    write(body)


@pytest.mark.parametrize("answer", [two_megabytes, gzip_of_64_mib], ids=["2-MB", "gzip-64-MiB"])
@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_an_answer_past_the_limit_is_refused_naming_the_call(
    cloud: str, answer: Callable[[Callable[[bytes], None]], None]
) -> None:
    """The three SDKs read an answer whole, gzip undone whole, before gapwatch saw it: a 256 MiB
    answer took about 1 GB (docs/security.md, session 36). Now what they read through their
    session is refused past `max_answer_bytes` (1,000,000 here), decoded: a failed look naming
    the call. Alibaba's session, in darabonba's class-wide cache, is put there capped before the
    first call (lb/darasessions.py); on main it had no such setting (session 37)."""
    factory, first, _fixtures = CLOUDS[cloud]
    with RawServer(answer) as server:
        outcome = poll_once(factory(server.url, lambda _op: None, max_answer_bytes=1_000_000))
    assert isinstance(outcome, LbApiError), outcome
    assert str(outcome) == f"{cloud} {first}: an answer past 1000000 bytes: not read further"


def test_alibaba_clients_of_one_endpoint_share_its_session_and_the_smaller_limit() -> None:
    """darabonba keeps one session per endpoint for the whole process: a second client of the
    same endpoint with a larger `max_answer_bytes` does not lift the first one's limit."""
    factory, first, _fixtures = CLOUDS["alibaba-slb"]
    with RawServer(two_megabytes) as server:
        factory(server.url, lambda _op: None, max_answer_bytes=1_000_000)
        larger = factory(server.url, lambda _op: None, max_answer_bytes=64 << 20)
        outcome = poll_once(larger)
    assert str(outcome) == f"alibaba-slb {first}: an answer past 1000000 bytes: not read further"


def test_an_alibaba_answer_past_the_default_limit_is_a_failed_look_and_the_poller_goes_on(
    engine: Engine,
) -> None:
    """Alibaba's `DescribeHealthStatus` answering 17 MiB of valid JSON (one string) at the
    default `max_answer_bytes` (16 MiB). On main the SDK read it whole (a 256 MiB one peaked
    at 1,083 MB) and the look went on with a health answer of no members: each member recorded
    `unavailable`. Now a failed look naming the call, and the next look records the group."""
    factory, first, fixtures = CLOUDS["alibaba-slb"]
    with FakeCloud() as fake:
        for action, name in fixtures.items():
            fake.answer(action, fixture(name))
        fake.fail(first, 200, {"RequestId": "s37", "x": "x" * (17 << 20)})
        source = make_source("alibaba-slb", lambda count: factory(fake.url, count), nodes=NODES)
        assert look(source, engine) == 0
        assert source.ready() == (
            f"alibaba-slb {first}: an answer past 16777216 bytes: not read further"
        )
        assert source.failures == 1
        assert look(source, engine) >= 1
        assert source.failures == 0
    assert stored(engine)


@pytest.mark.parametrize(
    ("plan", "raw"),
    [
        (plan_alibaba, {"region": "r", "load_balancer_id": "lb", "vserver_group_id": "g"}),
        (plan_tencent, {"region": "r", "load_balancer_id": "lb"}),
        (plan_huawei, {"region": "r", "pool_id": "p"}),
    ],
    ids=["alibaba-slb", "tencent-clb", "huawei-elb"],
)
def test_max_answer_bytes_is_a_setting_of_each_cloud(plan: Any, raw: dict[str, Any]) -> None:
    """`max_answer_bytes` is read from the section; 0 is a config error naming it."""
    from gapwatch.recorder.errors import ConfigError

    plan({**raw, "max_answer_bytes": 1 << 20})
    with pytest.raises(ConfigError, match=r"\.max_answer_bytes: expected a number > 0"):
        plan({**raw, "max_answer_bytes": 0})
