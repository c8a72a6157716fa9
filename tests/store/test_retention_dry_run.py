"""`db maintain --retention ... --dry-run` says what the retention would drop and changes
nothing; its count is what the real run then drops, on both stores (on PostgreSQL the rows still
waiting in the default partition count too: maintain moves them into their day first). The
demo's store, its events dated 2026-01-01, lost all 874 to `--retention 1d` with no way to look
first."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app


def _run(*args: str) -> dict[str, object]:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    doc: dict[str, object] = orjson.loads(done.stdout)
    return doc


def _events(url: str) -> int:
    rows = orjson.loads(CliRunner().invoke(app, ["db", "stats", "--db", url, "--json"]).stdout)
    return sum(int(r["events"]) for r in rows)


def test_the_dry_run_counts_what_the_retention_then_drops(store_url: str) -> None:
    assert CliRunner().invoke(app, ["simulate", "--db", store_url]).exit_code == 0
    stored = _events(store_url)
    assert stored > 0
    keep_all = _run(
        "db", "maintain", "--db", store_url, "--retention", "36500d", "--dry-run", "--json"
    )
    assert keep_all["would_drop_events"] == 0
    seen = _run("db", "maintain", "--db", store_url, "--retention", "1d", "--dry-run", "--json")
    assert seen["dry_run"] is True and seen["would_drop_events"] == stored
    assert str(seen["first"]).startswith("2026-01-01") and _events(store_url) == stored
    done = _run("db", "maintain", "--db", store_url, "--retention", "1d", "--json")
    assert done["dropped_events"] == stored and _events(store_url) == 0
