"""What ingest makes of known observations, as digests: the `events` values `prepare` gives
and the facts `derive` gives, for the benchmark's mix and every simulator preset, each line
passed through its NDJSON text, `from_dict` and the storable checks as `gapwatch import` reads
it. A rewrite of the ingest path for speed must keep every row, byte for byte: run it on main
and on the rewrite and compare (session 28's derive cuts did, against main eba45cd).

    .venv/bin/python -m benchmarks.ingest_digest"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from benchmarks.observations import generate
from gapwatch.recorder.ndjson import check_storable, dumps
from gapwatch.recorder.observation import Observation, from_dict
from gapwatch.recorder.sim import PRESETS, load_scenario, run
from gapwatch.recorder.writer import prepare
from gapwatch.replay.facts import derive

#: The mix's size: every shape the generator makes, several times over.
MIX_N = 3000


def source(name: str) -> list[Observation]:
    """The observations of `name`: `mix` (benchmarks/observations.py) or a simulator preset
    (seed 1; `large` cut to 600 s)."""
    if name == "mix":
        return list(generate(MIX_N, seed=7))
    overrides = {"duration_s": 600} if name == "large" else {}
    return run(load_scenario(name, overrides), 1).observations


def digests(observations: Iterable[Observation]) -> tuple[int, str, str]:
    """(lines, sha256 of the prepared `events` rows, sha256 of the derived facts)."""
    rows, facts = hashlib.sha256(), hashlib.sha256()
    count = 0
    for event_id, original in enumerate(observations, start=1):
        text = dumps(original).encode()
        check_storable(text)
        obs = from_dict(orjson.loads(text))
        stored, row = prepare(obs)
        rows.update(repr(row).encode() + b"\n")
        for fact in derive(event_id, stored):
            facts.update(repr(tuple(fact)).encode() + b"\n")
        count += 1
    return count, rows.hexdigest(), facts.hexdigest()


NAMES = ("mix", *sorted(PRESETS))

if __name__ == "__main__":
    for name in NAMES:
        print(f"    {name!r}: {digests(source(name))!r},")
