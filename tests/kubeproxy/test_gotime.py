"""Go's time.Time.String() text, as kube-proxy's /healthz writes lastUpdated and currentTime:
the samples published upstream read to the right instant, the zero time is recognised, and a
value that is not Go's text is refused with its reason, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gapwatch.recorder.gotime import ZERO_US, format_go_time, read_go_time
from gapwatch.recorder.timefmt import to_micros


def _us(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> int:
    return to_micros(datetime(y, mo, d, h, mi, s, us, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # curl of kube-proxy's :10256/healthz, quoted in cilium/cilium#11733
        ("2020-06-03 23:59:53.688063083 +0000 UTC m=+202.631797660",
         _us(2020, 6, 3, 23, 59, 53, 688063)),
        # kube-proxy on Windows, quoted in antrea-io/antrea#4196 (7 fraction digits, GMT)
        ("2022-08-18 16:16:11.6510411 +0000 GMT m=+257377.633892701",
         _us(2022, 8, 18, 16, 16, 11, 651041)),
        # a local zone with a name, and one without (Go prints the numeric offset)
        ("2026-01-01 01:00:00 +0100 CET", _us(2026, 1, 1)),
        ("2026-01-01 05:30:00.5 +0530 +0530", _us(2026, 1, 1, 0, 0, 0, 500000)),
        ("2025-12-31 20:00:00 -0400 -04", _us(2026, 1, 1)),
        ("2026-01-01 00:00:00 +0000 UTC m=-0.000000001", _us(2026, 1, 1)),
    ],
)  # fmt: skip
def test_the_texts_kube_proxy_writes(text: str, expected: int) -> None:
    got = read_go_time(text)
    assert got.us == expected and got.reason is None and not got.zero


def test_the_zero_time_is_recognised() -> None:
    got = read_go_time("0001-01-01 00:00:00 +0000 UTC")
    assert got.zero and got.us == ZERO_US
    assert to_micros(datetime(1, 1, 1, tzinfo=UTC)) == ZERO_US


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "not a string: NoneType"),
        (1767225600, "not a string: int"),
        ("2026-01-01T00:00:00Z", "not Go's time.Time.String() form"),  # RFC 3339: not Go's
        ("2026-01-01 00:00:00 UTC", "not Go's time.Time.String() form"),  # no offset
        ("2026-01-01 00:00:00.1234567890 +0000 UTC", "not Go's time.Time.String() form"),
        ("2026-13-01 00:00:00 +0000 UTC", "no such time"),
        ("2026-02-30 00:00:00 +0000 UTC", "no such time"),
        ("2026-01-01 00:00:00 +2400 X", "no such time"),
        ("x" * 10_000, "not Go's time.Time.String() form"),
    ],
)
def test_what_is_not_go_time_is_refused_with_its_reason(value: object, reason: str) -> None:
    got = read_go_time(value)
    assert got.us is None and got.reason is not None and got.reason.startswith(reason)
    assert len(got.reason) < 200  # a long value is shown cut, not whole


@pytest.mark.parametrize(
    "us", [_us(2026, 1, 1), _us(2026, 1, 1, 0, 1, 11, 123400), _us(1999, 12, 31, 23, 59, 59, 1)]
)
def test_written_as_go_writes_it_and_read_back(us: int) -> None:
    text = format_go_time(us, monotonic_us=71_000_001)
    assert text.endswith(" +0000 UTC m=+71.000001000")
    assert read_go_time(text).us == us
    assert read_go_time(format_go_time(us)).us == us


def test_the_fraction_without_trailing_zeros_as_go_prints_it() -> None:
    assert format_go_time(_us(2026, 1, 1, 0, 1, 11, 123400)) == "2026-01-01 00:01:11.1234 +0000 UTC"
    assert format_go_time(_us(2026, 1, 1)) == "2026-01-01 00:00:00 +0000 UTC"


def test_the_zero_time_written_as_go_writes_it() -> None:
    assert format_go_time(ZERO_US) == "0001-01-01 00:00:00 +0000 UTC"
