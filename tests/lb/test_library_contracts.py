"""What the pollers and the listeners rely on in botocore and aiohttp beyond their documented
API, pinned so that an upgrade that changes it fails here, by name, rather than silently.

- botocore (recorder/sources/lb/bounded.py): no public way reaches a client's HTTP session, so
  `client._endpoint.http_session` is read; its `send` must leave the body unread when the
  request's `stream_output` is set, and a `before-send` handler's answer must replace botocore's
  own sending. Were either to change, answers would again be read whole, unbounded.
- aiohttp (recorder/sources/lb/listener.py): `web.Server.connections` lists the open
  connections' handlers, each with `transport` (the one `request.transport` names while a
  request is handled on it) and `force_close()`.
- darabonba-core (recorder/sources/lb/darasessions.py): the Alibaba SDK sends through the
  `requests.Session` of its class-wide cache `DaraCore._sessions` under the key
  `session_key` computes, so that the session put there capped is the one its calls read with.

Real HTTP: botocore and the Alibaba SDK against tests/lb/rawserver.py (a local TCP server
scripting the bytes, the wire level), aiohttp's own server against a plain socket client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from aiohttp import web

from tests.lb.awsworld import REGION
from tests.lb.rawserver import RawServer

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000000\r\n\r\n<partial"


def headers_then_nothing(write: Callable[[bytes], None]) -> None:
    """Headers promising 1 MB, 8 bytes of it, then silence until the client goes."""
    write(HEADERS)
    while True:
        time.sleep(0.2)
        write(b"")


def _client(url: str) -> Any:
    return boto3.session.Session().client("elbv2", region_name=REGION, endpoint_url=url)


def test_botocores_http_session_leaves_a_streamed_body_unread() -> None:
    """`client._endpoint.http_session.send` of a request with `stream_output` returns at the
    headers: the body (1 MB promised, 8 bytes sent, then nothing) is left to bounded.py."""
    with RawServer(headers_then_nothing) as server:
        client = _client(server.url)
        session = client._endpoint.http_session  # AttributeError: botocore moved it
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=server.url, data=b"Action=X").prepare()
        request.stream_output = True
        got: list[Any] = []
        sender = threading.Thread(target=lambda: got.append(session.send(request)), daemon=True)
        sender.start()
        sender.join(30)  # a hang guard: an upgrade reading the body whole would wait here
        assert got, "send() did not return at the headers: it reads the body whole"
        answer = got[0]
        assert answer.status_code == 200
        assert answer.raw.read1(64, decode_content=False) == b"<partial"
        answer.raw.close()


def test_a_before_send_handlers_answer_replaces_botocores_sending() -> None:
    """A `before-send` handler that answers: botocore parses that answer and sends nothing."""
    from botocore.awsrequest import AWSResponse

    class Body:
        def stream(self, *_args: Any, **_kwargs: Any) -> Any:
            yield (
                b'<DescribeTagsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/'
                b'2015-12-01/"><DescribeTagsResult><TagDescriptions/></DescribeTagsResult>'
                b"</DescribeTagsResponse>"
            )

    with RawServer(headers_then_nothing) as server:
        client = _client(server.url)
        client.meta.events.register(
            "before-send.elastic-load-balancing-v2",
            lambda request, **_kw: AWSResponse(request.url, 200, {}, Body()),
        )
        assert client.describe_tags(ResourceArns=["arn:x"])["TagDescriptions"] == []
        assert server.requests == 0


def test_aiohttps_server_lists_its_connections_with_the_transport_a_request_names() -> None:
    """While a request is handled, `runner.server.connections` holds one handler whose
    `transport` is the request's; `force_close()` closes it (the client reads the end)."""

    async def main() -> tuple[bool, bytes]:
        seen: list[bool] = []
        closed = asyncio.Event()

        async def handle(request: web.Request) -> web.Response:
            server = runner.server
            assert server is not None
            handlers = server.connections
            seen.append(len(handlers) == 1 and handlers[0].transport is request.transport)
            handlers[0].force_close()
            closed.set()
            return web.Response(text="late")

        app = web.Application()
        app.router.add_get("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]

        def client() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return sock.recv(4096)

        try:
            said = await asyncio.to_thread(client)
        finally:
            await runner.cleanup()
        return bool(seen) and all(seen), said

    matched, said = asyncio.run(main())
    assert matched, "runner.server.connections no longer holds the request's transport"
    assert said == b"", said  # closed by force_close(), the answer never written


def small_json(write: Callable[[bytes], None]) -> None:
    """A 200 of a small JSON object, whatever the request."""
    body = b'{"RequestId": "s37"}'
    write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def test_the_alibaba_sdk_sends_through_the_session_put_in_darabonbas_cache() -> None:
    """An Alibaba client's start puts a capped session in `DaraCore._sessions` under
    `session_key(client)`; a call then makes no other session and sends through that one."""
    from alibabacloud_slb20140515 import models
    from darabonba.core import DaraCore

    from gapwatch.recorder.sources.lb.alibaba import AlibabaSlbClient
    from gapwatch.recorder.sources.lb.darasessions import session_key

    with RawServer(small_json) as server:
        client = AlibabaSlbClient(
            load_balancer_id="lb", vserver_group_id="g", region="cn-hangzhou", endpoint=server.url
        )
        sdk = client._client
        cache = DaraCore._sessions  # AttributeError: darabonba moved its cache
        key = session_key(sdk)
        assert key in cache, f"no session under {key!r}: {sorted(cache)}"
        session, before = cache[key], set(cache)
        adapter = session.get_adapter(server.url)
        assert type(adapter).__name__ == "_CappedAdapter", adapter
        request = models.DescribeHealthStatusRequest(load_balancer_id="lb", region_id="r")
        sdk.describe_health_status(request)
        assert server.requests == 1
        assert set(cache) == before, f"the call made {sorted(set(cache) - before)}, not {key!r}"
        assert cache[key] is session


def test_urllib3_sends_on_the_pool_class_tables_connections_whose_sock_is_the_socket() -> None:
    """recorder/sources/lb/sizecap.py and heldreads.py (session 38): a requests adapter's
    PoolManager makes its pools from `pool_classes_by_scheme`, a pool sends each request by its
    `ConnectionCls`'s `request()` in the calling thread, and while the answer's headers are read
    the socket is the connection's `sock` (http.client's name). Were any to change, a call given
    up on while its headers trickle would keep its thread again."""
    import requests

    from gapwatch.recorder.sources.lb import heldreads
    from gapwatch.recorder.sources.lb.sizecap import SENT_POOLS, cap_session

    done = threading.Event()

    def status_then_silence(write: Callable[[bytes], None]) -> None:
        write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        done.wait(10)

    session = requests.Session()
    cap_session(session, 1024)
    here = threading.current_thread()
    with RawServer(status_then_silence) as server:
        inner = session.get_adapter(server.url)._inner  # type: ignore[attr-defined]
        assert type(inner.poolmanager.connection_from_url(server.url)) is SENT_POOLS["http"]
        with contextlib.suppress(requests.RequestException):
            session.get(server.url, timeout=1)  # the headers never end: a read timeout
        done.set()
    with heldreads._lock:
        sent = heldreads._sending.pop(here, [])
    assert sent, "no request was sent through the pool class table's connection"
    assert all(hasattr(conn, "sock") for conn in sent)


def test_botocores_session_makes_its_pools_from_the_table_bounded_py_changes() -> None:
    """recorder/sources/lb/bounded.py (session 39): botocore's `URLLib3Session` keeps its pool
    classes in `_pool_classes_by_scheme`, the very dict its PoolManager makes pools from, and
    its pools send each request by their `ConnectionCls`'s `request()` in the calling thread,
    on a connection whose socket is `sock`. Were any to change, an ELBv2 call given up on while
    its headers trickle would keep its thread again (tests/lb/test_elbv2_answers.py)."""
    from botocore.awsrequest import AWSRequest

    from gapwatch.recorder.sources.lb import heldreads
    from gapwatch.recorder.sources.lb.bounded import send_through_sent_pools

    done = threading.Event()

    def status_then_silence(write: Callable[[bytes], None]) -> None:
        write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        done.wait(10)

    here = threading.current_thread()
    with RawServer(status_then_silence) as server:
        session = _client(server.url)._endpoint.http_session
        send_through_sent_pools(session)
        pool = session._manager.connection_from_url(server.url)
        assert type(pool) is session._pool_classes_by_scheme["http"], type(pool)
        request = AWSRequest(method="POST", url=server.url, data=b"Action=X").prepare()
        with contextlib.suppress(Exception):  # the headers end when the script does (10 s)
            session.send(request)
        done.set()
    with heldreads._lock:
        sent = heldreads._sending.pop(here, [])
    assert sent, "no request was sent through the pool class table's connection"
    assert all(hasattr(conn, "sock") for conn in sent)
