"""A blocking call waited for at most a time: an endpoint cannot hold a poller's look for ever.

The cloud SDKs (and botocore's headers) read an answer under a timeout per socket read only: an
endpoint that sends a byte every few seconds holds the call for as long as it likes, and the
poller's look with it (session 36). Nothing public reaches the socket to close it, so
`call_in_time` runs the call in a thread of its own and gives up on it after `seconds`
(`AnswerRefused`); the thread is handed to `abandon` (lb/heldreads.py shuts the socket of a body
it reads) and otherwise left to end by itself, when the endpoint stops sending (one read timeout
after its last byte) or finishes, and whatever it returns then goes to `late` (to close an
answer). `Held` counts such threads per client: at `limit`, a call is refused before it
starts, so a hostile endpoint holds a few threads (each a socket and what the SDK read so far),
never one a look.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Seconds a call may take, from its request's sending to its answer's last byte: a real answer
#: (a target group's members and health, at most some MB) takes milliseconds; 30 is three of
#: botocore's 10 s read timeouts and half the Tencent SDK's 60 s one, whose per-read timeouts
#: alone bound nothing.
ANSWER_SECONDS = 30.0
#: Threads a client leaves running calls it gave up on before it refuses to start another: a
#: poller's looks are one at a time, so a few late answers (a congested link) never refuse a
#: look, while an endpoint trickling every answer holds 4 threads, not one a look.
MAX_HELD = 4


class AnswerRefused(Exception):
    """An answer past its size or its time: not read (or waited for) further."""


class Held:
    """The threads of one client still running calls given up on."""

    def __init__(self, limit: int = MAX_HELD) -> None:
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()


class _Call(Generic[T]):
    """One call's outcome, as its thread leaves it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.abandoned = False
        self.value: T | None = None
        self.error: BaseException | None = None


def call_in_time(
    call: Callable[[], T],
    *,
    seconds: float,
    held: Held,
    late: Callable[[T], None] = lambda _value: None,
    abandon: Callable[[threading.Thread], None] = lambda _thread: None,
) -> T:
    """`call()`, waited for `seconds` in a thread of its own; past them `AnswerRefused`, the
    thread left to end by itself (counted in `held` until it does, its value then given to
    `late`) and handed to `abandon` (lb/heldreads.py ends what it reads where it can). Refused
    at once while `held` is at its limit."""
    with held.lock:
        if held.count >= held.limit:
            raise AnswerRefused(
                f"{held.count} answer{'s' if held.count > 1 else ''} still held by the endpoint "
                "past its time: not sending another"
            )
    state: _Call[T] = _Call()

    def run() -> None:
        try:
            state.value = call()
        except BaseException as exc:  # handed to the waiting caller, raised there
            state.error = exc
        with held.lock:
            state.done.set()
            if not state.abandoned:
                return
            held.count -= 1
        if state.error is None:
            late(state.value)  # type: ignore[arg-type]  # set by call()

    thread = threading.Thread(target=run, name="gapwatch-answer", daemon=True)
    thread.start()
    state.done.wait(seconds)
    with held.lock:
        abandoned = state.abandoned = not state.done.is_set()
        if abandoned:
            held.count += 1
    if abandoned:
        abandon(thread)
        raise AnswerRefused(f"no whole answer within {seconds:g} s: not waited for further")
    if state.error is not None:
        raise state.error
    return state.value  # type: ignore[return-value]  # set by call()
