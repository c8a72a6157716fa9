"""The dashboard is a reader: it never writes to the store itself.

Everything the app's pages read (dashboard.data, and the replay API calls dashboard.cache makes)
runs against a real store on both backends while every statement sent to the database is
recorded with the code that sent it. With the projections current nothing is written at all;
with new events pending, the only writes are replay's own projection refresh (the dashboard may
ask replay to bring its read model up to date, never write it). The modules the app is built
from import no writer and no SQL DML.
"""

from __future__ import annotations

import ast
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

import gapwatch.dashboard
from gapwatch.dashboard import data
from gapwatch.dashboard.filters import Filters
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import WhatIf

DML = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "LOCK", "TRUNCATE", "COPY")
#: Modules of the `gapwatch demo` / `gapwatch dashboard` commands (CLI side: they build a store).
COMMAND_MODULES = {"commands.py", "demo.py", "cli.py"}


@dataclass
class Statements:
    """Every statement sent, with the innermost gapwatch source file that sent it."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        return [(verb, origin) for verb, origin in self.sent if verb in DML]


def _origin() -> str:
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if path.parent.name in ("dashboard", "replay", "recorder") and "tests" not in path.parts:
            return f"{path.parent.name}/{path.name}"
    return "?"


@pytest.fixture
def recorded(engine: Engine) -> Iterator[Statements]:
    statements = Statements()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        statements.sent.append((verb, _origin()))

    event.listen(engine, "before_cursor_execute", before)
    yield statements
    event.remove(engine, "before_cursor_execute", before)


def _write(engine: Engine, seed: int) -> None:
    scenario = load_scenario("seed-3node", {"cluster": f"c{seed}"})
    EventWriter(engine, derive=write_facts).write_all(run(scenario, seed=seed).observations)


def _read_like_the_app(engine: Engine) -> int:
    """What the overview and rollout pages read; returns how many windows were listed."""
    filters = Filters()
    data.store_info(engine)
    data.last_event_id(engine)
    services = data.services(engine, filters)
    windows = data.windows(engine, filters)
    rollouts = data.rollouts(engine, filters)
    assert services and windows and rollouts
    page = data.rollout_page(engine, rollouts[0])
    assert page.segments
    data.events_by_id(engine, data.window_event_ids(windows[0]))
    api.advise(engine, services[0])
    api.whatif(engine, services[0], WhatIf(prestop_s=30))
    return len(windows)


def test_reading_a_current_store_writes_nothing(engine: Engine, recorded: Statements) -> None:
    _write(engine, 1)
    projections.refresh(engine)
    recorded.sent.clear()
    assert _read_like_the_app(engine) > 0
    assert recorded.sent, "the listener saw no statement at all"
    assert recorded.writes() == []


def test_only_replay_writes_while_the_dashboard_reads_new_events(
    engine: Engine, recorded: Statements
) -> None:
    _write(engine, 1)
    projections.refresh(engine)
    _write(engine, 2)  # a recorder wrote; nobody refreshed the projections
    recorded.sent.clear()
    _read_like_the_app(engine)
    writes = recorded.writes()
    assert writes, "new events should have made replay refresh its projections"
    replay = {
        "replay/projections.py",
        "replay/projection_rows.py",
        "replay/row_diff.py",
        "replay/segment_store.py",
        "replay/settings_reads.py",
        "replay/state_rows.py",
        "replay/behind.py",
    }
    assert {origin for _, origin in writes} <= replay


def test_the_apps_modules_import_no_writer_and_build_no_dml() -> None:
    offenders = []
    for path in sorted(Path(gapwatch.dashboard.__path__[0]).glob("*.py")):
        if path.name in COMMAND_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = {alias.name for alias in node.names}
                if module in ("gapwatch.recorder.writer", "gapwatch.replay.projections"):
                    offenders.append(f"{path.name}:{node.lineno}: {module}")
                if module.startswith("sqlalchemy") and names & {"insert", "update", "delete"}:
                    offenders.append(f"{path.name}:{node.lineno}: {sorted(names)}")
            elif isinstance(node, ast.Attribute) and node.attr == "begin":
                offenders.append(f"{path.name}:{node.lineno}: .begin()")
    assert offenders == []
