"""ServiceRef (replay.model) and DetectSettings (replay.assumptions) keep their hash: equal ones
hash alike however they were made, and one pickled in one process (a saved checkpoint, an
accuracy job's windows) finds its entries in another, whose string hashes differ."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import ServiceRef, Window

_LOAD = """
import pickle, sys
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.model import ServiceRef
table = pickle.loads(sys.stdin.buffer.read())
ref = ServiceRef("c1", "istio-system", "gw")
mine = DetectSettings(ccm_mode="node", watch_skew_s=0.7)
print(table[ref], table[(ref, "node-1")], table[("c1", mine)], hash(ref) == hash(next(iter(table))))
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
    assert list(ServiceRef.__dataclass_fields__) == ["cluster", "namespace", "name"]
    assert ServiceRef("c1", "ns", "a") < ServiceRef("c1", "ns", "b")


def test_a_window_pickled_keeps_its_service() -> None:
    ref = ServiceRef("c1", "ns", "gw")
    window = Window(ref, "n1", "node-not-ready", 1, 2, 1, 1, 2, 2, "measured")
    loaded = pickle.loads(pickle.dumps(window))
    assert loaded == window and hash(loaded) == hash(window)
    assert {loaded.service: 1}[ref] == 1


def test_a_ref_pickled_in_another_process_finds_its_entries() -> None:
    ref = ServiceRef("c1", "istio-system", "gw")
    mine = DetectSettings(ccm_mode="node", watch_skew_s=0.7)
    table = {ref: "service", (ref, "node-1"): "lane", ("c1", mine): "settings"}
    data = pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)
    root = Path(__file__).resolve().parents[2]
    for seed in ("1", "2"):  # neither this process's string hashes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _LOAD], input=data, capture_output=True, env=env, cwd=root,
            check=True,
        )  # fmt: skip
        assert out.stdout.decode().split() == ["service", "lane", "settings", "True"]


def test_equal_settings_hash_alike_however_made() -> None:
    mine = DetectSettings(watch_skew_s=0.7, ccm_mode="endpoint")
    made = [
        DetectSettings(watch_skew_s=0.7, ccm_mode="endpoint"),
        dataclasses.replace(DEFAULTS, watch_skew_s=0.7, ccm_mode="endpoint"),
        dataclasses.replace(dataclasses.replace(mine, watch_skew_s=2.0), watch_skew_s=0.7),
        copy.deepcopy(mine),
        pickle.loads(pickle.dumps(mine)),
    ]
    for other in made:
        assert other == mine and hash(other) == hash(mine)
        assert {("c1", other): 1}[("c1", mine)] == 1
    assert mine != DEFAULTS and {mine: 1}.get(DEFAULTS) is None
    # the hash is no field: what is shown and compared holds the assumptions alone
    assert [f.name for f in dataclasses.fields(mine)][-1] == "proxy_mode"
    assert "_hash" not in dataclasses.asdict(mine) and "_hash" not in repr(mine)
    assert "_hash" not in DetectSettings.__dataclass_fields__  # a pseudo-field, as ClassVars are
