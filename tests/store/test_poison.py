"""Values PostgreSQL cannot store are escaped; a batch that still fails is split and quarantined.

Real SQLite and PostgreSQL (each test runs on both): the same escaped rows on both backends, the
original back on export, and one poison observation never stops the rest of its batch.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, text

from gapwatch.recorder.exporter import export_ndjson, iter_events
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.storable import ESC, escape_value, restore_value
from gapwatch.recorder.tables import events, projector_failures, projector_positions, quarantine
from gapwatch.recorder.writer import Checkpoint, EventWriter, load_checkpoints, no_derive
from gapwatch.replay.facts import write_facts

T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HOSTILE = {
    "nul": "before\x00after",
    "esc": f"private {ESC}0 use",
    "surrogate": "lone \ud800 half",
    "key\x00with nul": ["\x00", {"deep\x00": "x\x00"}],
}


def _service(i: int, annotations: dict[str, Any], name: str | None = None) -> Observation:
    name = name or f"svc-{i}"
    return Observation(
        observed_at=T + timedelta(seconds=i),
        cluster="c1",
        source="k8s-watch",
        kind="Service",
        op="ADDED",
        namespace="default",
        name=name,
        resource_version=str(100 + i),
        payload={"metadata": {"name": name, "namespace": "default", "annotations": annotations}},
    )


def _payloads(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.payload).order_by(events.c.id)).scalars().all()
    return [orjson.loads(p) if isinstance(p, str) else p for p in rows]


def test_escape_is_a_bijection_on_strings() -> None:
    escaped = escape_value(HOSTILE)
    text_form = orjson.dumps(escaped).decode()
    assert "\\u0000" not in text_form and "\x00" not in text_form
    assert restore_value(escaped) == HOSTILE
    plain = {"a": "nothing to escape", "b": [1, 2.5, None, True]}
    assert escape_value(plain) == plain


def test_nul_and_surrogates_are_stored_escaped_and_exported_back(engine: Engine) -> None:
    obs = _service(1, HOSTILE)
    result = EventWriter(engine, derive=write_facts).write([obs, _service(2, {"fine": "yes"})])
    assert (result.inserted, result.quarantined) == (2, 0)
    stored = _payloads(engine)
    # the same escaped document on both backends
    assert stored[0]["metadata"]["annotations"] == escape_value(HOSTILE)
    assert stored[1]["metadata"]["annotations"] == {"fine": "yes"}
    out = io.StringIO()
    export_ndjson(iter_events(engine), out)
    first = out.getvalue().splitlines()[0]
    assert "before\\u0000after" in first and "lone \\ud800 half" in first
    assert f"private {ESC}0 use" in first  # the user's own ESC comes back as it was


def test_an_ndjson_round_trip_with_nul_gives_the_same_bytes(engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    obs = _service(3, {"a": "x\x00y", "b": ESC + "e"})
    line = orjson.dumps(obs.to_dict(), option=orjson.OPT_SORT_KEYS).decode()
    source.write_text(line + "\n")
    report = import_files(engine, [str(source)], derive=write_facts)
    assert report.error_count == 0 and report.written.inserted == 1
    out = io.StringIO()
    export_ndjson(iter_events(engine), out)
    assert out.getvalue() == line + "\n"


def _poison_derive(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """replay's facts, from a derive that cannot read one payload (as a real one might fail on
    odd data): it raises half-way, after writing the facts of the rows before."""
    for i, (event_id, obs) in enumerate(rows):
        if obs.name == "poison":
            raise ValueError(f"cannot derive facts from event {event_id}")
        write_facts(conn, rows[i : i + 1])


def test_a_derive_that_raises_never_costs_the_events(engine: Engine) -> None:
    """The projector derives after the events commit: every event stays stored, the one its
    derive fails on is recorded in projector_failures and stepped over, every other one has its
    facts exactly once, and the checkpoints are saved."""
    batch = [_service(i, {"n": str(i)}) for i in range(40)]
    batch[23] = _service(23, {"n": "23"}, name="poison")
    checkpoint = Checkpoint(cluster="c1", source="k8s-watch", key="Service", value="139")
    result = EventWriter(engine, derive=_poison_derive).write(batch, [checkpoint])
    assert (result.offered, result.inserted, result.quarantined, result.underived) == (
        40,
        40,
        0,
        1,
    )
    with engine.connect() as conn:
        stored = conn.execute(select(events.c.id, events.c.name).order_by(events.c.id)).all()
        derived = conn.execute(text("SELECT event_id FROM facts ORDER BY event_id")).scalars()
        failed = conn.execute(select(projector_failures)).mappings().all()
        position = conn.execute(select(projector_positions.c.position)).scalar_one()
        assert conn.execute(select(quarantine)).first() is None
    poison_id = next(i for i, name in stored if name == "poison")
    assert list(derived) == [i for i, name in stored if name != "poison"]
    assert [(f["event_id"], f["name"]) for f in failed] == [(poison_id, "facts")]
    assert "ValueError: cannot derive facts" in failed[0]["error"]
    assert position == stored[-1][0]
    assert load_checkpoints(engine, "c1", "k8s-watch") == {"Service": "139"}
    # recording goes on
    assert EventWriter(engine, derive=_poison_derive).write([_service(50, {})]).inserted == 1


def test_a_payload_no_store_can_hold_is_quarantined(engine: Engine) -> None:
    deep: Any = "bottom"
    for _ in range(300):  # deeper than orjson's 254 levels
        deep = {"d": deep}
    huge = dataclasses.replace(
        _service(1, {}), payload={"metadata": {"name": "svc-1"}, "spec": {"port": 2**70}}
    )
    batch = [_service(0, {}), huge, _service(2, {"deep": deep}), _service(3, {})]
    result = EventWriter(engine, derive=no_derive).write(batch)
    assert (result.inserted, result.quarantined) == (2, 2)
    with engine.connect() as conn:
        errors = conn.execute(select(quarantine.c.error)).scalars().all()
    assert all("cannot be stored as JSON" in e for e in errors)


def test_an_identity_too_long_to_index_is_quarantined_on_both(engine: Engine) -> None:
    """PostgreSQL's btree refuses index entries past 2,704 bytes; both backends refuse alike."""
    import secrets

    long_name = secrets.token_hex(8000)  # incompressible
    batch = [_service(0, {}), _service(1, {}, name=long_name), _service(2, {})]
    result = EventWriter(engine, derive=no_derive).write(batch)
    assert (result.inserted, result.quarantined) == (2, 1)
    with engine.connect() as conn:
        error = conn.execute(select(quarantine.c.error)).scalar_one()
    assert "exceed 2000 bytes" in error
