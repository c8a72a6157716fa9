"""The ELBv2 poller against answers no ELBv2 endpoint should send (session 35's attacks).

Real HTTP: boto3 talks to tests/lb/fakeelb.HealthProxy, which forwards to moto's server and, on
cue (`answer_with`), answers an action itself at the wire level: a body sent as HTTP/1.1 chunks
as a generator yields them (hundreds of MB without holding them, or never ending), gzip-encoded,
or XML with entity tricks. What must hold: memory and time bounded (`max_answer_bytes`,
`answer_timeout_s`), an `LbApiError` that names the call, and the poller going on at its next
look.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.lb.build import plan_elbv2
from gapwatch.recorder.sources.lb.elbv2 import Elbv2Client, Elbv2Groups, TargetGroupRef
from gapwatch.recorder.sources.lb.shape import LbApiError
from gapwatch.recorder.sources.lb.tracker import ServiceKey
from gapwatch.recorder.store import make_engine
from tests.lb.awsworld import REGION, make_world
from tests.lb.fakeelb import HealthProxy
from tests.lb.harness import look, make_source, stored
from tests.lb.rawserver import RawServer, in_thread, until_gone
from tests.lb.test_elbv2 import elbv2_adapter

NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
OPEN = (
    f'<DescribeTargetHealthResponse xmlns="{NS}"><DescribeTargetHealthResult>'
    "<TargetHealthDescriptions>"
).encode()
CLOSE = (
    b"</TargetHealthDescriptions></DescribeTargetHealthResult>"
    b"<ResponseMetadata><RequestId>s35</RequestId></ResponseMetadata>"
    b"</DescribeTargetHealthResponse>"
)
MEMBER = (
    b"<member><Target><Id>i-0123456789abcdef0</Id><Port>30080</Port></Target>"
    b"<TargetHealth><State>healthy</State></TargetHealth></member>"
)


def members(count: int) -> Iterator[bytes]:
    """A DescribeTargetHealth answer of `count` targets, 1,000 a piece."""
    yield b'<?xml version="1.0"?>' + OPEN
    for _ in range(count // 1000):
        yield MEMBER * 1000
    yield CLOSE


def never_ending() -> Iterator[bytes]:
    """The start of an answer, then a space every 0.2 s for as long as the client reads."""
    yield b'<?xml version="1.0"?>' + OPEN
    while True:
        time.sleep(0.2)
        yield b" "


def gzip_bomb() -> Iterator[bytes]:
    """`Content-Encoding: gzip`, 64 MiB of one target id decoded, some 64 KB on the wire."""
    body = gzip.compress(
        b'<?xml version="1.0"?>'
        + OPEN
        + b"<member><Target><Id>"
        + b"x" * (64 << 20)
        + b"</Id></Target></member>"
        + CLOSE
    )
    yield body


def laughs() -> Iterator[bytes]:
    """Billion laughs: ten entities each ten of the one before, one target id of 10^9 `lol`."""
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
    ]
    doctype = b"<!DOCTYPE d [" + b"".join(entities) + b"]>"
    yield b'<?xml version="1.0"?>' + doctype + OPEN
    yield b"<member><Target><Id>&lol9;</Id></Target></member>" + CLOSE


def external_entity() -> Iterator[bytes]:
    """An external entity naming a local file, as a target id."""
    doctype = b'<!DOCTYPE d [<!ENTITY f SYSTEM "file:///etc/hostname">]>'
    yield b'<?xml version="1.0"?>' + doctype + OPEN
    yield b"<member><Target><Id>&f;</Id></Target></member>" + CLOSE


def no_target_id() -> Iterator[bytes]:
    """Well-formed ELBv2 XML whose member has a health but no target."""
    yield OPEN + b"<member><TargetHealth><State>healthy</State></TargetHealth></member>" + CLOSE


def poll_once(client: Elbv2Client, arn: str, guard_s: float = 120) -> object:
    """`client.poll([arn])` in a thread (`in_thread`, a hang guard of `guard_s`)."""
    return in_thread(lambda: client.poll([arn]), guard_s)


def test_an_answer_past_the_limit_is_refused_naming_the_call(
    moto_url: str, elb_proxy: HealthProxy
) -> None:
    """A DescribeTargetHealth of 200,000 targets (some 28 MB; AWS allows 1,000 a group). Session
    35 found main reading and parsing it whole (1.6 million targets: 3.1 GB peak, 60 s); now it
    is refused past `max_answer_bytes` (16 MiB) without being read further."""
    world = make_world(moto_url, instances=1)
    client = Elbv2Client(region=REGION, endpoint_url=elb_proxy.url, max_attempts=1)
    client.poll([world.arn])  # the settings are read: the next look is DescribeTargetHealth only
    elb_proxy.answer_with("DescribeTargetHealth", lambda: members(200_000))
    outcome = poll_once(client, world.arn)
    assert isinstance(outcome, LbApiError), outcome
    assert str(outcome).startswith("elbv2 DescribeTargetHealth: an answer past 16777216 bytes")


def test_an_answer_that_never_ends_is_refused_after_its_time(
    moto_url: str, elb_proxy: HealthProxy
) -> None:
    """An answer that sends a byte every 0.2 s for ever: each read comes well within botocore's
    10 s read timeout, so on main the poll never returned (and the poller with it); now it is
    refused once it has taken `answer_timeout_s` (1 s here)."""
    world = make_world(moto_url, instances=1)
    client = Elbv2Client(
        region=REGION, endpoint_url=elb_proxy.url, max_attempts=1, answer_seconds=1.0
    )
    client.poll([world.arn])
    elb_proxy.answer_with("DescribeTargetHealth", never_ending)
    outcome = poll_once(client, world.arn)
    assert isinstance(outcome, LbApiError), outcome
    assert str(outcome).startswith("elbv2 DescribeTargetHealth: an answer still coming after 1 s")


@pytest.mark.parametrize(
    ("answer", "headers", "why"),
    [
        (gzip_bomb, [("Content-Encoding", "gzip")], "not well-formed"),
        (laughs, [], "amplification"),
        (external_entity, [], "undefined entity &f;"),
        (no_target_id, [], "a target health with no Target.Id"),
    ],
    ids=["gzip-bomb", "billion-laughs", "external-entity", "no-target-id"],
)
def test_an_answer_that_is_not_elbv2s_is_a_failed_look_and_the_poller_goes_on(
    store_url: str,
    moto_url: str,
    elb_proxy: HealthProxy,
    answer: Callable[[], Iterator[bytes]],
    headers: list[tuple[str, str]],
    why: str,
) -> None:
    """botocore never decodes gzip (the bomb reaches its XML parser as it came), Python's expat
    stops entity amplification and never loads an external entity: each an answer that cannot
    be parsed. On main botocore's `ResponseParserError` (not a `BotoCoreError`) and the
    `KeyError` of a target without an id went past the poller's `LbApiError` handling, out of
    the source's task, and stopped the whole recorder. Now each is a failed look naming the
    call, and the next look records the target group."""
    world = make_world(moto_url, instances=1)
    world.register(0)
    groups = Elbv2Groups([TargetGroupRef(world.arn, ServiceKey("istio-system", "igw"))], {})
    source = make_source(
        "elbv2",
        elbv2_adapter(groups, elb_proxy.url),
        nodes=world.nodes(),
        service_of=groups.service_of,
    )
    engine = make_engine(store_url)
    try:
        elb_proxy.answer_with("DescribeTargetHealth", answer, headers=headers)
        assert look(source, engine) == 0
        problem = source.ready() or ""
        assert source.failures == 1
        assert problem.startswith("elbv2 DescribeTargetHealth: "), problem
        assert why in problem
        assert look(source, engine) >= 1
        assert source.failures == 0
        got = [(o.op, o.node) for o in stored(engine)]
    finally:
        engine.dispose()
    assert got == [("ADDED", "node-0")]


def test_the_limits_come_from_the_elbv2_section_of_the_configuration(
    moto_url: str, elb_proxy: HealthProxy
) -> None:
    """`sources.elbv2.max_answer_bytes` reaches the client: moto's own answer (a few KB) is
    refused under a limit of 1,000 bytes; a limit that is not a number > 0 is a config error."""
    world = make_world(moto_url, instances=1)
    raw = {"region": REGION, "endpoint": elb_proxy.url, "target_groups": [{"arn": world.arn}]}
    adapter = plan_elbv2({**raw, "max_answer_bytes": 1000, "max_attempts": 1}).adapter(
        lambda _op: None
    )
    with pytest.raises(LbApiError, match="an answer past 1000 bytes"):
        adapter.poll()
    with pytest.raises(ConfigError, match=r"sources\.elbv2\.answer_timeout_s"):
        plan_elbv2({**raw, "answer_timeout_s": 0})


def trickled_headers(write: Callable[[bytes], None]) -> None:
    """A status line, then a header byte every 0.2 s for as long as the client reads: each read
    comes well within botocore's 10 s read timeout, and http.client takes up to 100 lines of
    64 KiB each."""
    write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-Slow: ")
    while True:
        time.sleep(0.2)
        write(b"x")


def test_headers_that_never_end_are_refused_within_the_answers_time() -> None:
    """An endpoint that sends its answer's headers a byte at a time (tests/lb/rawserver.py: a
    local TCP server scripting the bytes, the wire level). Session 35 bounded the body by
    `answer_timeout_s` and left the headers to http.client, read a line at a time under the
    per-read timeout: the look waited as long as the endpoint sent. Session 36 gave the whole
    answer, headers included, `answer_timeout_s` (1 s here) from when it was sent, and left the
    thread reading those headers running while the endpoint sent: with `max_held` 1 every later
    look was refused before it sent (on main the endpoint still held the socket when the test
    gave up). Now the call given up on has its socket shut (lb/bounded.py's pools, through
    lb/heldreads.py): the endpoint sees the client go, the thread ends, and the next look is
    sent (and given up on in turn). The waits are hang guards, not timings."""
    gone = threading.Event()
    arn = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/a/b"
    with RawServer(until_gone(trickled_headers, gone)) as server:
        client = Elbv2Client(
            region=REGION,
            endpoint_url=server.url,
            max_attempts=1,
            answer_seconds=1.0,
            max_held=1,
        )
        outcome = poll_once(client, arn, 30)
        assert isinstance(outcome, LbApiError), outcome
        assert str(outcome).startswith(
            "elbv2 DescribeTargetGroups: no whole answer within 1 s: not waited for further"
        ), outcome
        assert gone.wait(30), "the endpoint still holds the socket of the call given up on"
        deadline = time.monotonic() + 30  # the thread ends once botocore has raised: a guard
        while "still held" in str(again := poll_once(client, arn, 30)):
            assert time.monotonic() < deadline, again
            time.sleep(0.05)
        assert str(again).startswith(
            "elbv2 DescribeTargetGroups: no whole answer within 1 s: not waited for further"
        ), again
        assert server.requests == 2
