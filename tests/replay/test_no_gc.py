"""replay.load.no_gc: leaving a block that made many objects runs no collection over them (they
go to the oldest generation unscanned); a small block's are collected young as before, but a
refresh's (`kept`: the checkpoint's new state) go to the oldest unscanned too, with a full
collection once such blocks promoted `_FULL_AFTER` objects; it never unfreezes what the process
froze."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapwatch.replay.load import no_gc


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations collected, as they start (gc.callbacks)."""
    seen: list[int] = []

    def heard(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.collect()
    gc.callbacks.append(heard)
    yield seen
    gc.callbacks.remove(heard)


_LEAVING = """
import gc
from gapwatch.replay.load import no_gc

seen = []
gc.collect()
gc.callbacks.append(lambda phase, info: phase == "start" and seen.append(info["generation"]))
with no_gc():
    made = [[i] for i in range(150_000)]  # tracked objects, as the fold's samples
after = [[i] for i in range(1_000)]  # allocations after it: a young collection or more
assert gc.isenabled()
assert 2 not in seen, seen  # no full collection ran
oldest = {id(o) for o in gc.get_objects(generation=2)}
assert all(id(o) in oldest for o in made[::1000]), "not moved to the oldest generation"
young = {id(o) for o in gc.get_objects(generation=0)}
assert not any(id(o) in young for o in made[::1000]), "still young"
print("ok", len(after))
"""


def test_leaving_runs_no_collection_over_what_the_block_made() -> None:
    """In a process of its own: a test worker that ran the recorder's k8s source in-process
    keeps objects frozen, and then no_gc rightly leaves the block's objects young (CI failed
    this test on such a worker)."""
    done = subprocess.run(
        [sys.executable, "-c", _LEAVING], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.split() == ["ok", "1000"], done.stderr


def test_what_the_process_froze_stays_frozen() -> None:
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with no_gc():
            made = [[i] for i in range(1_000)]
        assert gc.get_freeze_count() == frozen and gc.isenabled()
        assert made
    finally:
        gc.unfreeze()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with no_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_small_blocks_objects_stay_young(collections: list[int]) -> None:
    with no_gc():
        made = [[i] for i in range(5_000)]  # a refresh's few
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert not any(id(o) in oldest for o in made[::100])
    assert 0 in collections  # the young collection ran on the way out, as before


_REFRESH = """
import gc, sys, tempfile
sys.path.insert(0, sys.argv[1])
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import load, projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from tests.replay import builders as b
from tests.replay.test_segment_tail import _health_history

engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/store.db")
upgrade(engine)
writer = EventWriter(engine, derive=write_facts)
writer.write_all(_health_history(400))
cp = Checkpoint()
projections.rebuild(engine, checkpoint=cp)
writer.write([b.health(802, 800, "n1", 1), b.health(804, 802, "n1", 0)])
gc.collect()
seen = []
gc.callbacks.append(lambda phase, info: phase == "start" and seen.append(info["generation"]))
assert projections.refresh(engine, checkpoint=cp) == 2
(kept,) = cp.windows.values()
node = kept.nodes["n1"]  # found again: its lanes grew
oldest = {id(o) for o in gc.get_objects(generation=2)}
assert all(id(o) in oldest for o in (node, node.windows, node.found)), "not in the oldest"
assert 2 not in seen, seen  # no full collection ran

# promoted unscanned, counted: a full collection once past the bound
load._FULL_AFTER = 10_000
seen.clear()
made = []
for _ in range(3):
    with load.no_gc(kept=True):
        made.append([[i] for i in range(6_000)])
assert 2 in seen, seen
print("ok")
"""


def test_a_refresh_leaves_its_state_in_the_oldest_generation() -> None:
    """A refresh from a checkpoint (a health lane of 400 changes, 2 more): the node's new
    windows and what they were found from are in the oldest generation when it returns, no
    young collection having walked them (before: in the middle one, after a young pass over
    every list the refresh made); blocks that promoted more than `_FULL_AFTER` objects run a
    full collection. In a process of its own, as above."""
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", _REFRESH, root], capture_output=True, text=True, timeout=300,
        cwd=root,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.split() == ["ok"], done.stderr[-3000:]
