"""A NodePortSelfCheck (the prober's NodePort looks were answered by kube-proxy's cluster-wide
chain) makes replay read its cluster as without NodePort probes, over the whole store
(replay.shortcircuit): the same simulated store with the verdict gives the windows of that store
without its NodePort probes, without it the windows read with them; on both backends, through
an incremental refresh (with and without a checkpoint) and a rebuild, and in memory wherever
the verdict lies in the log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window

#: aws-nlb seed 3: 4 windows with its NodePort probes, 3 without (checked below)
SCENARIO, SEED = "aws-nlb", 3
#: the event ids a window was opened and closed by differ between the clusters: not compared
WINDOW_COLUMNS = (
    "namespace, service, node, class, start_us, end_us, start_earliest_us, start_latest_us, "
    "end_earliest_us, end_latest_us, provenance, certain"
)


def _simulated() -> list[Observation]:
    return list(run(load_scenario(SCENARIO), seed=SEED).observations)


def _verdict(cluster: str, at: datetime, node: str = "node-2") -> Observation:
    """What the prober stores when its self-check decides (recorder/sources/kubeproxy)."""
    return Observation(
        observed_at=at,
        cluster=cluster,
        source="kube-proxy-probe",
        kind="NodePortSelfCheck",
        op="OBSERVED",
        payload={
            "verdict": "short-circuited",
            "port": 31000,
            "health_port": 32000,
            "address": "10.0.0.2",
            "listed_endpoints": 0,
            "proofs": [],
        },
        namespace="istio-system",
        name="istio-ingressgateway",
        node=node,
    )


def _in_memory(observations: Sequence[Observation]) -> list[tuple[object, ...]]:
    facts = []
    for event_id, obs in enumerate(observations, start=1):
        facts.extend(derive(event_id, obs))
    found: list[Window] = detect(fold(FoldState(), facts))
    return sorted(
        (w.service.key, w.node, w.cls, w.start_earliest_us, w.start_latest_us,
         w.end_earliest_us, w.end_latest_us, w.certain)
        for w in found
    )  # fmt: skip


def test_a_verdict_anywhere_in_the_log_reads_the_cluster_without_nodeport_probes() -> None:
    observations = _simulated()
    cluster = observations[0].cluster
    without = [o for o in observations if o.kind != "NodePortProbe"]
    with_probes, without_probes = _in_memory(observations), _in_memory(without)
    assert len(with_probes) == 4 and with_probes != without_probes  # the probes matter here
    times = sorted(o.observed_at for o in observations)
    for at in (0, len(observations) // 2, len(observations)):
        verdict = _verdict(cluster, times[min(at, len(times) - 1)])
        assert _in_memory([*observations[:at], verdict, *observations[at:]]) == without_probes
    # another cluster's verdict changes nothing here
    assert _in_memory([*observations, _verdict("elsewhere", times[-1])]) == with_probes


def _as_cluster(name: str, observations: Sequence[Observation]) -> list[Observation]:
    return [replace(o, cluster=name) for o in observations]


def _windows(engine: Engine, cluster: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {WINDOW_COLUMNS} FROM replay_windows WHERE cluster = :c "
                f"ORDER BY {WINDOW_COLUMNS}"
            ),
            {"c": cluster},
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("kept", [False, True], ids=["plain", "checkpoint"])
def test_a_verdict_refreshes_its_cluster_as_the_same_store_without_nodeport_probes(
    engine: Engine, kept: bool
) -> None:
    """Three clusters of the same run: `probed` with its NodePort probes, `unprobed` without
    them, `checked` with them and, once the windows are read, the verdict (stored last, dated
    in the middle: the looks before it are void too). `checked` then reads as `unprobed`,
    `probed` is left alone; a rebuild gives the same rows."""
    observations = _simulated()
    writer = EventWriter(engine, derive=write_facts)
    writer.write(_as_cluster("probed", observations))
    writer.write(_as_cluster("unprobed", [o for o in observations if o.kind != "NodePortProbe"]))
    writer.write(_as_cluster("checked", observations))
    checkpoint = Checkpoint() if kept else None
    projections.refresh(engine, checkpoint=checkpoint)
    probed, unprobed = _windows(engine, "probed"), _windows(engine, "unprobed")
    assert len(probed) == 4 and probed != unprobed
    assert _windows(engine, "checked") == probed

    middle = sorted(o.observed_at for o in observations)[len(observations) // 2]
    writer.write([_verdict("checked", middle)])
    assert projections.refresh(engine, checkpoint=checkpoint) == 1
    assert _windows(engine, "checked") == unprobed
    assert _windows(engine, "probed") == probed
    if checkpoint is not None:
        assert checkpoint.refolded and checkpoint.state is not None
        assert checkpoint.state.short_circuited == {"checked"}

    projections.rebuild(engine)
    assert _windows(engine, "checked") == unprobed
    assert _windows(engine, "probed") == probed
