"""recorder/readahead.py: order kept, the producer's error raised in the consumer, a consumer
that stops early stops the producer (no thread left running)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gapwatch.recorder.readahead import read_ahead


def test_items_arrive_in_order() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_the_producers_error_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("line 2: bad")

    got: list[int] = []
    with pytest.raises(ValueError, match="line 2: bad"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1]


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    items = read_ahead(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # what a `for` loop left by an exception does
    assert threading.active_count() == before
    assert len(produced) <= 5 + 2 + 1  # the bounded handoff: never far ahead
