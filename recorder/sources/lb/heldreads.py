"""The answer bodies a call's thread is reading, so that a call given up on stops reading them.

lb/intime.py gives up on a call past its time and leaves its thread reading: until session 37
that thread held its socket, and a place among a client's `MAX_HELD`, until the endpoint let
go, and a hostile one never did (a byte every few seconds). What the three requests-based SDKs
read goes through lb/sizecap.py's adapter, which hands each answer's body (urllib3's
`HTTPResponse`) to `reading`; `end_reads(thread)` calls the public `HTTPResponse.shutdown()`
(urllib3 2.3+: `shutdown(SHUT_RD)` on its socket) of every body that thread reads, now or
later, so that a read blocked in it returns at once, the SDK's call fails and the thread ends.

Not reached: a call still waiting for its answer's status line and headers (http.client reads
them inside `getresponse()`, before urllib3 makes the response; no public name reaches that
socket), nor botocore's (lb/bounded.py reads ELBv2's bodies itself, within its time).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

_lock = threading.Lock()
#: per thread, the bodies it is reading (kept until the thread ends: one call a thread)
_reading: weakref.WeakKeyDictionary[threading.Thread, list[Any]] = weakref.WeakKeyDictionary()
#: the threads whose calls were given up on
_ended: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def _shutdown(body: Any) -> None:
    # ValueError: no socket to shut; RuntimeError: the body was read and its connection went
    # back to the pool (another call's now); OSError: the socket is closed already
    with contextlib.suppress(ValueError, RuntimeError, OSError):
        body.shutdown()


def reading(body: Any) -> None:
    """The current thread reads `body` (urllib3's `HTTPResponse`): shut at once if its call
    was given up on already."""
    thread = threading.current_thread()
    with _lock:
        ended = thread in _ended
        if not ended:
            _reading.setdefault(thread, []).append(body)
    if ended:
        _shutdown(body)


def end_reads(thread: threading.Thread) -> None:
    """`thread`'s call was given up on: every body it reads, now or later, is shut."""
    with _lock:
        _ended.add(thread)
        bodies = _reading.pop(thread, [])
    for body in bodies:
        _shutdown(body)
