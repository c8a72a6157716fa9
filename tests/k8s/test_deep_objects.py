"""An object nested deeper than the store keeps, on the watch (session 40).

A watch line parses up to orjson's 1,024 levels, but orjson writes 255 at most and the store
keeps 253 (recorder/ndjson.py). A Service whose spec held a list nested 300 deep (a real API
server sends none for these typed kinds: an API server that is broken, hostile, or a proxy in
front of it) stopped the recorder: `TypeError: Recursion limit reached` from the watch's
fingerprint (sources/k8s/noop.py), then from the spool's size estimate, out of the source's
task, every source with it; restarted, it would list the same object and stop again. Now the
object is fingerprinted and sized without recursion and reaches the writer, which quarantines
it (recorder/quarantine.py); the changes around it are recorded once each, a no-op write to it
is dropped as any other, and a real change to it is quarantined again.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import text

from gapwatch.recorder.store import make_engine
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import RecorderThread, caught_up, fast_config, stored_rows, wait_until

DEPTH = 300


def _service(name: str, deep: int = 0, label: str = "a") -> dict[str, Any]:
    obj = copy.deepcopy(objects.services()[0])
    obj["metadata"]["name"] = name
    obj["metadata"].pop("resourceVersion", None)
    obj["metadata"].setdefault("labels", {})["gapwatch.test/version"] = label
    if deep:
        value: list[Any] = []
        for _ in range(deep - 1):
            value = [value]
        obj["spec"]["x"] = value
    return obj


def test_an_object_nested_past_the_stores_depth_is_quarantined_and_recording_goes_on(
    store_url: str,
) -> None:
    config = fast_config(kinds=("Service",))
    with FakeApiServer(bookmark_interval=0.05) as fake:
        fake.create("Service", _service("first"))
        rec = RecorderThread(config, store_url, fake.url).start()
        engine = rec.engine
        wait_until(lambda: caught_up(engine, fake, config), "the first sync")
        fake.create("Service", _service("deep", DEPTH))
        fake.create("Service", _service("after"))
        fake.update("Service", {**_service("deep", DEPTH), "status": {"x": 1}})  # a change
        wait_until(lambda: caught_up(engine, fake, config), "the changes after the deep one")
        assert rec.thread_alive(), rec.error
        fake.update("Service", {**_service("deep", DEPTH), "status": {"x": 1}})  # a no-op
        fake.update("Service", _service("after", label="b"))
        wait_until(lambda: caught_up(engine, fake, config), "the no-op and the last change")
        check = make_engine(store_url)
        with check.connect() as conn:
            kept = conn.execute(text("SELECT error, observation FROM quarantine")).all()
        check.dispose()
        rec.stop()  # raises what stopped the recorder
    rows = stored_rows(make_engine(store_url))
    assert [(name, deleted) for _kind, _ns, name, _rv, deleted in rows] == [
        ("first", False),
        ("after", False),
        ("after", False),
    ]
    assert len(kept) == 2  # the deep object's create and its change, not the no-op
    assert all("nested over 254 levels" in error for error, _line in kept)
    # each kept whole, as an NDJSON line `gapwatch import` takes back once the cause is fixed
    assert [(json.loads(line)["name"], json.loads(line)["op"]) for _e, line in kept] == [
        ("deep", "ADDED"),
        ("deep", "MODIFIED"),
    ]
