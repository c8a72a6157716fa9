"""The answer bodies a call's thread is reading, so that a call given up on stops reading them.

lb/intime.py gives up on a call past its time and leaves its thread reading: until session 37
that thread held its socket, and a place among a client's `MAX_HELD`, until the endpoint let
go, and a hostile one never did (a byte every few seconds). What the three requests-based SDKs
read goes through lb/sizecap.py's adapter, which hands each answer's body (urllib3's
`HTTPResponse`) to `reading`; `end_reads(thread)` calls the public `HTTPResponse.shutdown()`
(urllib3 2.3+: `shutdown(SHUT_RD)` on its socket) of every body that thread reads, now or
later, so that a read blocked in it returns at once, the SDK's call fails and the thread ends.

A call still waiting for its answer's status line and headers (http.client reads them inside
`getresponse()`, before urllib3 makes the response) is reached through its connection: lb/
sizecap.py's pools make urllib3 connections that hand themselves to `sending` as each request
is sent, and `end_reads` shuts their sockets too (on a duplicate of the descriptor, so that the
connection's own socket object is left as it is). The socket is http.client's `sock`, a name it
does not document (urllib3 uses it throughout); tests/lb/test_library_contracts.py pins it.
Before (session 37), headers trickled a byte every few seconds held the call's thread and
socket, up to `MAX_HELD` a client, past which its looks were refused. Not reached: botocore's
(lb/bounded.py reads ELBv2's bodies itself, within its time; lb/intime.py its headers).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from gapwatch.recorder.sockshut import shut_duplicate

_lock = threading.Lock()
#: per thread, the bodies it is reading (kept until the thread ends: one call a thread)
_reading: weakref.WeakKeyDictionary[threading.Thread, list[Any]] = weakref.WeakKeyDictionary()
#: the threads whose calls were given up on
_ended: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


#: per thread, the connections it sent its request on (their answer's headers maybe still coming)
_sending: weakref.WeakKeyDictionary[threading.Thread, list[Any]] = weakref.WeakKeyDictionary()


def _shut_connection(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError):  # ValueError: the socket closed (fileno -1)
        shut_duplicate(sock.fileno())


def _register(
    table: weakref.WeakKeyDictionary[threading.Thread, list[Any]],
    item: Any,
    shut: Callable[[Any], None],
) -> None:
    thread = threading.current_thread()
    with _lock:
        ended = thread in _ended
        if not ended:
            table.setdefault(thread, []).append(item)
    if ended:
        shut(item)


def sending(conn: Any) -> None:
    """The current thread sends a request on `conn` (a urllib3 connection): shut at once if
    its call was given up on already."""
    _register(_sending, conn, _shut_connection)


def _shutdown(body: Any) -> None:
    # ValueError: no socket to shut; RuntimeError: the body was read and its connection went
    # back to the pool (another call's now); OSError: the socket is closed already
    with contextlib.suppress(ValueError, RuntimeError, OSError):
        body.shutdown()


def reading(body: Any) -> None:
    """The current thread reads `body` (urllib3's `HTTPResponse`): shut at once if its call
    was given up on already."""
    _register(_reading, body, _shutdown)


def end_reads(thread: threading.Thread) -> None:
    """`thread`'s call was given up on: every body it reads, now or later, is shut."""
    with _lock:
        _ended.add(thread)
        bodies = _reading.pop(thread, [])
        connections = _sending.pop(thread, [])
    for body in bodies:
        _shutdown(body)
    for conn in connections:
        _shut_connection(conn)


class _Sends:
    """Mixed into a urllib3 connection class: says which thread sends on it (`sending`)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        sending(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


def sent_pools(pools: Mapping[str, Any]) -> dict[str, Any]:
    """Pool classes like `pools` (scheme -> a urllib3 pool class) whose connections say which
    thread sends on them: lb/sizecap.py's for the requests-based SDKs, lb/bounded.py's for
    botocore's (whose connection classes add 100-continue to urllib3's)."""
    made: dict[str, Any] = {}
    for scheme, pool in pools.items():
        conn = pool.ConnectionCls
        sent = type(f"Sent{conn.__name__}", (_Sends, conn), {})
        made[scheme] = type(f"Sent{pool.__name__}", (pool,), {"ConnectionCls": sent})
    return made
