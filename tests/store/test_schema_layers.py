"""One definition of each table's columns, and the layers' import direction.

The `events` Table (recorder/tables.py) is the one list of the log's columns: the writer's COPY
column list and types, its staging table, the SQLite INSERT and the dashboard's event table derive
from it; the NDJSON field list derives from the JSON Schema. The `facts` Table (replay/tables.py)
and replay.facts.Fact must agree column for column. The recorder must never import replay or the
dashboard (dependencies run dashboard -> replay -> recorder): every recorder module is imported in
a fresh interpreter and the modules it loaded are listed.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import orjson
from sqlalchemy import Engine

import gapwatch.recorder
from gapwatch.dashboard import data
from gapwatch.recorder import writer
from gapwatch.recorder.observation import FIELDS, Observation
from gapwatch.recorder.tables import EVENT_COLUMNS, copy_types, events
from gapwatch.recorder.timefmt import format_time
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay import factsql
from gapwatch.replay.facts import FACT_COLUMNS, Fact
from gapwatch.replay.tables import facts
from tests.store.samples import real_observations


def test_event_columns_are_the_events_table_less_what_the_database_fills() -> None:
    assert tuple(c.name for c in events.columns)[1:-1] == EVENT_COLUMNS
    assert events.c.id.primary_key
    assert events.c.recorded_at.server_default is not None


def test_every_ndjson_field_is_an_observation_field_and_an_events_column() -> None:
    observation_fields = {f.name for f in dataclasses.fields(Observation)}
    assert set(FIELDS) == observation_fields
    assert set(EVENT_COLUMNS) == set(FIELDS) | {"dedupe_key"}


def test_the_writers_rows_follow_event_columns() -> None:
    for obs in real_observations():
        row = dict(zip(EVENT_COLUMNS, writer.event_row(obs), strict=True))
        assert row.pop("dedupe_key") == obs.dedupe_key()
        assert orjson.loads(row.pop("payload")) == obs.payload
        assert row == {name: getattr(obs, name) for name in row}
        assert set(row) == set(FIELDS) - {"payload"}


def test_the_ndjson_form_has_every_field_in_schema_order() -> None:
    for obs in real_observations():
        assert tuple(obs.to_dict()) == FIELDS


def test_copy_types_follow_the_column_types() -> None:
    types = dict(zip(EVENT_COLUMNS, copy_types(events, EVENT_COLUMNS), strict=True))
    assert types["observed_at"] == types["source_time"] == "timestamptz"
    assert types["payload"] == "jsonb"
    assert types["cluster"] == types["dedupe_key"] == "text"
    fact_types = dict(zip(FACT_COLUMNS, copy_types(facts, FACT_COLUMNS), strict=True))
    assert fact_types["event_id"] == fact_types["num4"] == "int8"
    assert fact_types["seq"] == "int4"
    assert fact_types["text3"] == "text"
    assert copy_types(events, EVENT_COLUMNS) == writer._TYPES
    assert copy_types(facts, FACT_COLUMNS) == factsql.PG_TYPES


def test_fact_rows_match_the_facts_table() -> None:
    assert Fact._fields == tuple(facts.c.keys())
    assert tuple(facts.primary_key.columns.keys()) == ("event_id", "seq")


def test_the_dashboard_lists_stored_columns_only() -> None:
    assert set(data.EVENT_COLUMNS) <= set(events.c.keys())
    assert "id" in data.EVENT_COLUMNS and "payload" in data.EVENT_COLUMNS
    assert "dedupe_key" not in data.EVENT_COLUMNS


def _recorder_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(gapwatch.recorder.__path__, "gapwatch.recorder.")
        if not m.name.endswith("__main__")
    )


def test_the_recorder_imports_neither_replay_nor_the_dashboard() -> None:
    modules = _recorder_modules()
    assert "gapwatch.recorder.writer" in modules and "gapwatch.recorder.cli" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('gapwatch.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    loaded = json.loads(out.stdout)
    assert "gapwatch.recorder.writer" in loaded
    above = [m for m in loaded if m.startswith(("gapwatch.replay", "gapwatch.dashboard"))]
    assert above == []


def test_no_recorder_module_imports_replay_or_the_dashboard_even_lazily() -> None:
    """The AST of every recorder module, function-level imports included."""
    offenders = []
    for path in sorted(Path(gapwatch.recorder.__path__[0]).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno}: {n}"
                for n in names
                if n.startswith(("gapwatch.replay", "gapwatch.dashboard"))
            ]
    assert offenders == []


def test_the_dashboards_event_rows_carry_the_stored_values(engine: Engine) -> None:
    observations = real_observations()[:3]
    EventWriter(engine, derive=no_derive).write(observations)
    rows = data.events_by_id(engine, [3, 1, 2, 1])
    assert [r["id"] for r in rows] == [1, 2, 3]
    for row, obs in zip(rows, observations, strict=True):
        assert tuple(row) == data.EVENT_COLUMNS
        assert row["observed_at"] == format_time(obs.observed_at)
        assert row["kind"] == obs.kind and row["name"] == obs.name
        assert orjson.loads(row["payload"]) == obs.payload
