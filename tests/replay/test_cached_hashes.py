"""ServiceRef keeps its hash (replay.model): equal refs hash alike however they were made, and a
ref pickled in one process (a saved checkpoint, an accuracy job's windows) finds its entries in
another, whose string hashes differ."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

from gapwatch.replay.model import ServiceRef, Window

_LOAD = """
import pickle, sys
from gapwatch.replay.model import ServiceRef
table = pickle.loads(sys.stdin.buffer.read())
ref = ServiceRef("c1", "istio-system", "gw")
print(table[ref], table[(ref, "node-1")], hash(ref) == hash(next(iter(table))))
"""


def test_equal_refs_hash_alike_however_made() -> None:
    ref = ServiceRef("c1", "ns", "gw")
    made = [
        ServiceRef("c1", "ns", "gw"),
        dataclasses.replace(ServiceRef("c1", "ns", "other"), name="gw"),
        copy.copy(ref),
        copy.deepcopy(ref),
        pickle.loads(pickle.dumps(ref)),
    ]
    for other in made:
        assert other == ref and hash(other) == hash(ref)
        assert {other: 1}[ref] == 1
    assert dataclasses.astuple(ref) == ("c1", "ns", "gw")  # the hash is no field
    assert ServiceRef("c1", "ns", "a") < ServiceRef("c1", "ns", "b")


def test_a_window_pickled_keeps_its_service() -> None:
    ref = ServiceRef("c1", "ns", "gw")
    window = Window(ref, "n1", "node-not-ready", 1, 2, 1, 1, 2, 2, "measured")
    loaded = pickle.loads(pickle.dumps(window))
    assert loaded == window and hash(loaded) == hash(window)
    assert {loaded.service: 1}[ref] == 1


def test_a_ref_pickled_in_another_process_finds_its_entries() -> None:
    ref = ServiceRef("c1", "istio-system", "gw")
    table = {ref: "service", (ref, "node-1"): "lane"}
    data = pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)
    root = Path(__file__).resolve().parents[2]
    for seed in ("1", "2"):  # neither this process's string hashes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _LOAD], input=data, capture_output=True, env=env, cwd=root,
            check=True,
        )  # fmt: skip
        assert out.stdout.decode().split() == ["service", "lane", "True"]
