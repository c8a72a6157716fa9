"""Read ahead: produce an iterator's items in a thread while the caller consumes them.

`gapwatch import` parses and validates lines (Python) and writes batches (the server's COPY and
fsync); one after the other, each waits for the other. psycopg releases the GIL while it waits
for the server, so a producer thread parsing the next batch overlaps the write of this one.
At most `depth` items wait in between (memory stays bounded); an exception in the producer is
raised in the consumer; a consumer that stops early (an error, Ctrl-C) stops the producer, or,
when the producer is blocked on its input, leaves it behind as a daemon thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

#: How often a blocked producer checks whether the consumer went away (seconds).
_POLL_S = 0.1
#: How long a consumer that stops waits for the producer to notice (a few of its checks).
_JOIN_S = 1.0


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """The items of `items`, produced by a thread up to `depth` ahead of the caller."""
    handoff: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    gone = threading.Event()

    def put(item: T | _End) -> bool:
        while not gone.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_End(exc))
            return
        put(_End())

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        gone.set()
        # A producer blocked reading its input (a pipe that has nothing yet, when Ctrl-C stops
        # the consumer) cannot be woken: it is a daemon thread, left to end with the process.
        thread.join(timeout=_JOIN_S)
