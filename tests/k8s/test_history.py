"""A scripted history of thousands of changes with disconnects, stalls, 410s and restarts.

The store must end up holding every change exactly once, compared with the fake API's own
history (tests/k8s/harness.py `expected_rows` says what "every change" means across compaction).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import text

from gapwatch.recorder.store import make_engine
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import (
    RecorderThread,
    caught_up,
    expected_rows,
    fast_config,
    kinds,
    stored_rows,
    wait_until,
)
from tests.k8s.mutator import Mutator


def _json(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(str(value))


def restarts(rec: RecorderThread, kind: str) -> float:
    """How often the streams of `kind` were reopened, for any reason."""
    return sum(
        rec.metric("gapwatch_recorder_watch_restarts_total", kind=kind, reason=reason)
        for reason in ("timeout", "error", "stalled", "gone", "scope")
    )


def test_every_change_exactly_once_across_faults_and_restarts(store_url: str) -> None:
    config = fast_config()
    engine = make_engine(store_url)
    gaps: list[tuple[int, int]] = []
    with FakeApiServer(bookmark_interval=0.05) as fake:
        script = Mutator(fake, seed=6)
        script.seed()
        script.run(200, noops=False)
        gaps.append((0, fake.rv))  # before the first LIST, only the listed state is visible
        rec = RecorderThread(config, store_url, fake.url).start()

        def idle() -> None:
            wait_until(lambda: caught_up(engine, fake, config), "the recorder to catch up")

        idle()

        # 1. changes while streams are aborted mid-body every 100 changes: nothing lost.
        for _ in range(8):
            script.run(100)
            fake.drop_watches()
        # 2. streams that go silent: the read timeout reconnects, the watch resumes.
        fake.silence()
        script.run(150)
        wait_until(
            lambda: (
                rec.metric("gapwatch_recorder_watch_restarts_total", kind="Pod", reason="stalled")
                > 0
            ),
            "a stalled-stream restart",
        )
        fake.silence(False)
        # 3. the API goes away while history is compacted: 410 -> relist -> diff.
        idle()
        start = fake.rv
        fake.down()
        script.run(300, noops=False)
        fake.compact()
        fake.down(False)
        gaps.append((start, fake.rv))
        # 4. ERROR 410 on open streams with nothing missed: relists that add nothing.
        idle()
        relists = rec.metric("gapwatch_recorder_relists_total", kind="Pod")
        before = {k: restarts(rec, k) for k in kinds(config)}
        fake.compact()
        fake.send_gone()
        wait_until(
            lambda: rec.metric("gapwatch_recorder_relists_total", kind="Pod") > relists,
            "a relist after 410",
        )
        # Every stream has reopened (after a 410, with its relist done: rv set again) before
        # the next changes; else a late relist would fold them into one diff.
        wait_until(
            lambda: all(
                restarts(rec, w.resource.kind) > before[w.resource.kind] and w.rv is not None
                for w in rec.k8s._watching
            ),
            "every stream watching again",
        )
        idle()
        script.run(300)
        # 5. restart; the history is still there: resume from the checkpoint, no LIST.
        rec.stop()
        script.run(300)
        rec = RecorderThread(config, store_url, fake.url).start()
        idle()
        assert rec.metric("gapwatch_recorder_relists_total", kind="Pod") == 0
        script.run(300)
        # 6. restart after compaction: relist and diff against the last state in the store.
        idle()
        rec.stop()
        start = fake.rv
        script.run(300, noops=False)
        fake.compact()
        gaps.append((start, fake.rv))
        rec = RecorderThread(config, store_url, fake.url).start()
        idle()  # the relist is done: the gap ends here
        script.run(400)
        fake.drop_watches()
        script.run(200)
        idle()
        rec.stop()
        log, noop = list(fake.log), set(script.noop)

    assert len(log) > 3000
    rows = stored_rows(engine)
    assert len(rows) == len(set(rows)), "a change was stored twice"
    expected = expected_rows(log, gaps, noop, set(kinds(config)))
    assert set(rows) - expected == set(), "rows that are not changes of the fake"
    assert expected - set(rows) == set(), "changes that were not recorded"
    # A deletion is recorded once: never two DELETED rows for an object without a re-creation.
    last_deleted: dict[tuple[str, str | None, str], bool] = {}
    for kind, namespace, name, _, deleted in rows:
        key = (kind, namespace, name)
        assert not (deleted and last_deleted.get(key)), f"{key} deleted twice"
        last_deleted[key] = deleted
    # No-op heartbeats were dropped, and every stored payload is the version its row names.
    assert noop and not {str(rv) for rv in noop} & {r[3] for r in rows}
    with engine.connect() as conn:
        mismatched = [
            r
            for r in conn.execute(
                text("SELECT resource_version, payload FROM events WHERE kind <> 'RelistGap'")
            )
            if _json(r.payload)["metadata"]["resourceVersion"] != r.resource_version
        ]
    assert mismatched == []
    ops = Counter(r[4] for r in rows)
    assert ops[True] > 50 and ops[False] > 2000
    engine.dispose()
