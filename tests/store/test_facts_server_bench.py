"""benchmarks/facts_server.py (ingest session 30) measures what each variant of the facts' schema
costs the server; its figures count only if each variant's DDL still applies to the migrated
schema and does what its name says (an index renamed by a later migration would fail here, not
halfway through a benchmark run). PostgreSQL only; the server must run on this machine (the
script reads its backend's CPU from /proc), as the test session's does."""

from __future__ import annotations

import pytest

from benchmarks.facts_server import BASELINE, VARIANTS, Sample, key_order, measure
from benchmarks.observations import generate
from gapwatch.recorder.writer import prepare
from gapwatch.replay.facts import derive_all


@pytest.fixture(scope="module")
def samples(pg_server: str | None) -> dict[str, Sample]:
    if pg_server is None:
        pytest.skip("no PostgreSQL")
    observations = list(generate(300, seed=7))
    rows = [prepare(obs)[1] for obs in observations]
    facts = derive_all(enumerate(observations, start=1))
    ordered = key_order(facts)
    assert sorted(ordered) == sorted(facts) and ordered != facts  # the same facts, reordered
    return {
        name: measure(pg_server, rows, ordered if in_order else facts, ddl)
        for name, (ddl, in_order) in VARIANTS.items()
    }


def test_every_variant_applies_and_stores_the_facts(samples: dict[str, Sample]) -> None:
    assert set(samples) == set(VARIANTS) and BASELINE in samples
    for name, sample in samples.items():
        assert sample.heap_bytes > 0, name
        assert sample.cpu_s >= 0 and sample.wall_s > 0, name


def test_the_index_variants_change_the_indexes_they_name(samples: dict[str, Sample]) -> None:
    base = samples[BASELINE].index_bytes
    assert samples["bare"].index_bytes == 0
    assert 0 < samples["no-secondary"].index_bytes < base
    assert 0 < samples["no-pk"].index_bytes < base
    assert samples["dedup-off"].index_bytes >= base
