"""An answer read within a size, for the cloud SDKs that read theirs with requests.

The Tencent, Huawei and Alibaba SDKs read an answer whole (`requests.Response.content`, which
also undoes a `Content-Encoding: gzip` whole) before gapwatch sees it: session 36 measured a
256 MiB answer at about 1 GB of peak memory in each, and a gzip bomb of 256 MiB decoded (256 KB
on the wire) the same. `cap_session` mounts, on the SDK's `requests.Session`, an adapter that
hands the answer's body out through `_CappedBody`: requests reads `raw.stream(...)` decoded a
piece at a time (urllib3 2.6+ decodes a bounded piece a read), and past `max_bytes` the
connection is closed and `AnswerRefused` raised, which the SDK call turns into a failed look
naming it.

Private API: neither SDK exposes its session (Tencent's `ProxyConnection._session`, Huawei's
`HttpClient._session`); their clients reach it, and tests/lb/test_cloud_answers.py's answer past
the limit fails, by name, if an upgrade moves it or stops sending through it. Alibaba's SDK keeps
its sessions in a class-wide cache, made at the first call: lb/darasessions.py fills it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from requests import PreparedRequest, Response, Session
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from gapwatch.recorder.sources.lb.heldreads import reading, sent_pools
from gapwatch.recorder.sources.lb.intime import AnswerRefused

#: The largest answer read, decoded, in bytes: a Tencent `DescribeTargetHealth` of a load
#: balancer (every listener's targets) or a Huawei `ListMembers` page (500 members) is some
#: hundreds of bytes an entry, under a few MB; 16 MiB, as ELBv2's limit (lb/bounded.py).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class _CappedBody:
    """urllib3's `HTTPResponse` as requests reads it, refusing what comes past `max_bytes`."""

    def __init__(self, raw: Any, max_bytes: int) -> None:
        self._raw = raw
        self._max = max_bytes
        self._size = 0

    def _count(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size > self._max:
            self._raw.close()  # the rest is never read: the connection cannot be used again
            raise AnswerRefused(f"an answer past {self._max} bytes: not read further")
        return chunk

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            yield self._count(chunk)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        if amt is None:  # a whole read: a piece at a time, so that the limit holds
            return b"".join(self.stream(2**16, decode_content=kwargs.get("decode_content")))
        return self._count(self._raw.read(amt, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:  # headers, status, close, release_conn, ...
        return getattr(self._raw, name)


#: The pools an SDK's session makes once capped: a call given up on while its answer's headers
#: are still coming has its socket shut too (lb/heldreads.py).
SENT_POOLS = sent_pools({"http": HTTPConnectionPool, "https": HTTPSConnectionPool})


class _CappedAdapter(BaseAdapter):
    """The session's own adapter (its pool, retries, TLS), each answer's body capped."""

    def __init__(self, inner: BaseAdapter, max_bytes: int) -> None:
        super().__init__()
        self._inner = inner
        self._max = max_bytes
        if isinstance(inner, HTTPAdapter):  # PoolManager's public class table, before any pool
            inner.poolmanager.pool_classes_by_scheme = SENT_POOLS

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        response = self._inner.send(request, *args, **kwargs)
        reading(response.raw)  # shut if its call is given up on (lb/heldreads.py)
        response.raw = _CappedBody(response.raw, self._max)
        return response

    def close(self) -> None:
        self._inner.close()


def cap_session(session: Session, max_bytes: int) -> None:
    """Every answer `session` reads over HTTP or HTTPS, past `max_bytes` decoded: refused. A
    session capped before (a cache shared by clients, lb/darasessions.py) keeps the smaller."""
    for prefix in ("https://", "http://"):
        adapter = session.get_adapter(prefix)
        if isinstance(adapter, _CappedAdapter):
            adapter._max = min(adapter._max, max_bytes)
        else:
            session.mount(prefix, _CappedAdapter(adapter, max_bytes))
