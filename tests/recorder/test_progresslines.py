"""Progress lines in a log go by the clock (injected here), not by tenths of the work: a 17 kB
import printed ten lines, and a tenth of a large step could leave a log silent for minutes."""

from __future__ import annotations

from gapwatch.recorder.progresslines import LOG_EVERY_S, line_progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_no_line_for_work_that_ends_within_the_interval() -> None:
    clock, lines = Clock(), list[str]()
    advance = line_progress("importing", 17_102, lines.append, unit_bytes=True, clock=clock)
    for _ in range(10):
        clock.now += LOG_EVERY_S / 20
        advance(1_710.2)
    assert lines == []


def test_a_line_at_most_every_interval_with_how_far_it_got() -> None:
    clock, lines = Clock(), list[str]()
    advance = line_progress("folding facts", 1_000, lines.append, clock=clock)
    clock.now += LOG_EVERY_S - 0.001
    advance(100)  # just short of the interval: nothing yet
    clock.now += 0.001
    advance(200)
    clock.now += LOG_EVERY_S / 2
    advance(300)  # 5 s after the last line: none
    clock.now += LOG_EVERY_S / 2
    advance(100)
    assert lines == ["folding facts: 30% (300 of 1,000)", "folding facts: 70% (700 of 1,000)"]
    assert clock.reads == 1 + 4  # once at the start, once per advance


def test_without_a_total_it_says_how_much_so_far() -> None:
    clock, lines = Clock(), list[str]()
    advance = line_progress("reading", None, lines.append, unit_bytes=True, clock=clock)
    clock.now += 3 * LOG_EVERY_S  # a stall longer than the interval: one line, not three
    advance(2_500_000)
    assert lines == ["reading: 2.5 MB so far"]
