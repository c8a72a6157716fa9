"""The lanes of a span retention dropped, after a rebuild: said to be gone, not "nothing recorded".

A rebuild keeps the windows and rollouts of a dropped span (replay.kept_rows) but not their lane
segments (docs/retention.md). On the seed cluster after `gapwatch db maintain --retention 1d` and
`gapwatch replay --rebuild`, `gapwatch timeline` answered "no lanes ...: nothing recorded places
its endpoints, pods, kube-proxy or load balancer on a node" of lanes that were recorded, and the
dashboard's Rollout page drew the kept rollout's windows over empty lanes without a word. Both
backends; the CLI in-process, the page's data as the page reads it.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gapwatch.dashboard import data
from gapwatch.dashboard.cli import app
from gapwatch.recorder.store import make_engine
from gapwatch.replay import api

GONE = (
    "note: the lanes before the first event the store still holds (of cluster seed it holds "
    "none) are gone: retention (gapwatch db maintain --retention) dropped the events they were "
    "read from"
)
RANGE = ("--since", "2026-01-01T00:01:00Z", "--until", "2026-01-01T00:01:30Z")


def _run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.stdout, done.stderr


def _page_note(url: str) -> str:
    engine = make_engine(url)
    try:
        (rollout, *_) = api.rollouts(engine, cluster="seed")
        return data.rollout_page(engine, rollout).lanes_note
    finally:
        engine.dispose()


def test_the_lanes_of_a_dropped_span_are_said_to_be_gone(store_url: str) -> None:
    for args in (("simulate", "--cluster", "seed"), ("replay",)):
        assert _run(*args, "--db", store_url)[0] == 0
    code, out, err = _run("timeline", "--db", store_url, "--cluster", "seed", *RANGE)
    assert code == 0 and "NODE1  endpoints" in out and "note:" not in err
    assert _page_note(store_url) == ""
    assert _run("db", "maintain", "--db", store_url, "--retention", "1d")[0] == 0
    # retention alone keeps the segments: the lanes are still there, nothing to say
    code, out, err = _run("timeline", "--db", store_url, "--cluster", "seed", *RANGE)
    assert code == 0 and "NODE1  endpoints" in out and "note:" not in err
    assert "rebuilt: 3 windows" in _run("replay", "--db", store_url, "--rebuild")[2]

    code, out, err = _run("timeline", "--db", store_url, "--cluster", "seed", *RANGE)
    assert code == 0, out + err
    assert "nothing recorded" not in out
    said = " ".join(err.split())
    assert said.startswith(GONE), said
    assert "the 3 windows kept from before were found in the lanes dropped" in said
    code, out, err = _run("timeline", "--db", store_url, "--cluster", "seed", "--json")
    assert code == 0 and json.loads(out) == [] and " ".join(err.split()).startswith(GONE)
    assert _page_note(store_url).startswith(GONE.removeprefix("note: "))
