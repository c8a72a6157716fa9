"""The push API describes 100 bad lines, not 10,000 (session 38).

A line that breaks the observation schema was given jsonschema's whole error walk, to name the
best reason: 155-408 us of CPU a line (the more ways a line breaks the schema, the more), against
7-50 us to find its first error. The 400 answer names 100 bad lines and counts the rest, so the
walk over the other 9,900 was CPU spent on nothing: 10,000 lines of 189 bytes, each breaking the
schema a dozen ways, were 4.1 s of CPU a request (0.40 s now). Counted here by the walks asked
of the validator, not timed.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gapwatch.recorder import observation
from gapwatch.recorder.observation import UNDESCRIBED
from gapwatch.recorder.sources.lb.push import MAX_REPORTED, parse_body
from tests.lb.test_push import line

#: A line of the crafted kind: a Kubernetes kind (so its `then` branch is walked too) and every
#: field of the wrong type.
BAD = orjson.dumps(
    {
        "observed_at": 1,
        "cluster": 1,
        "source": 1,
        "kind": "EndpointSlice",
        "op": 1,
        "namespace": 1,
        "name": 1,
        "node": 1,
        "source_time": 1,
        "resource_version": 1,
        "previous_observed_at": 1,
        "payload": {"metadata": 1},
    }
)


class CountingValidator:
    """The real validator, counting the whole error walks asked of it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.walks = 0

    def iter_errors(self, instance: Any) -> Any:
        self.walks += 1
        return self.real.iter_errors(instance)

    def is_valid(self, instance: Any) -> bool:
        return bool(self.real.is_valid(instance))


def test_bad_lines_past_those_named_are_found_bad_without_the_error_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 bad lines among good ones: every bad line is found bad (the count the answer gives
    is right), the first 100 with their reason, the rest as UNDESCRIBED, and jsonschema's
    whole error walk ran 100 times, not 1,000 (on main it ran for each)."""
    counting = CountingValidator(observation._validator())
    monkeypatch.setattr(observation, "_validator", lambda: counting)
    good_line = orjson.dumps(line(1))
    body = b"\n".join([good_line] * 5 + [BAD] * 1000 + [good_line] * 5)

    good, bad = parse_body(body, max_lines=10_000)

    assert len(good) == 10
    assert len(bad) == 1000
    assert [b.line for b in bad] == list(range(6, 1006))
    assert all(b.reason != UNDESCRIBED for b in bad[:MAX_REPORTED])
    assert "is not of type" in bad[0].reason
    assert {b.reason for b in bad[MAX_REPORTED:]} == {UNDESCRIBED}
    assert counting.walks == MAX_REPORTED


def test_a_valid_line_after_the_named_bad_lines_is_still_good() -> None:
    """Past the named bad lines a line is still judged by the whole schema and the checks after
    it: a good one is not counted bad, one whose times disagree is (what the count means)."""
    later = dict(line(2), previous_observed_at="2030-01-01T00:00:00Z")
    body = b"\n".join([BAD] * (MAX_REPORTED + 1) + [orjson.dumps(line(1)), orjson.dumps(later)])

    good, bad = parse_body(body, max_lines=10_000)

    assert len(good) == 1
    assert len(bad) == MAX_REPORTED + 2
    assert bad[-1].reason == "previous_observed_at: later than observed_at"
