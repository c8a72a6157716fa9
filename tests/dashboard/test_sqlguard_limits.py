"""The console's limits hold for the whole query on a real PostgreSQL, not for each FETCH alone.

Rows come from a server-side cursor, 500 per FETCH, and a setting holds for one statement: so
the time limit is what is left of the query's own before every FETCH (a query whose every FETCH
ends in time but which runs on for ever is cut at its deadline).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gapwatch.dashboard.errors import QueryTimeout
from gapwatch.dashboard.sqlconsole import run_query
from tests.dashboard.conftest import drop_login, make_console_login

pytestmark = pytest.mark.postgres


@pytest.fixture
def console_login(pg_url: str) -> Iterator[str]:
    url, name = make_console_login(pg_url)
    yield url
    drop_login(pg_url, name)


def test_the_whole_query_ends_by_its_timeout(console_login: str) -> None:
    # each FETCH of 500 rows takes about 1 s, under the 3 s limit; the 8 of them take 8 s
    slow = "SELECT g, pg_sleep(0.002) FROM generate_series(1, 4000) g"
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="after 3 s"):
        run_query(console_login, slow, timeout_s=3, row_limit=0, byte_limit=0)
    assert time.monotonic() - started < 6
