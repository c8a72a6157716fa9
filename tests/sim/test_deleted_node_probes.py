"""The simulator's prober looks at a deleted node until its watch delivers the deletion, as the
recorder's prober does: it probes the nodes of its ClusterView (recorder/sources/view.py), which
drops a node only when the Node's DELETED event arrives. Before, the simulated prober forgot the
node at the deletion itself, so no probe ever saw it stop answering and a deletion the watch
showed late was a missed `node-not-ready` window (9 of the 36 misses of the development sets
1-999 and 5,000,000-5,000,999)."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.timefmt import parse_time, to_micros
from tests.replay.accuracy import replay_windows


def _deleted_late() -> dict[str, Any]:
    """A generated two-node cluster probed every 0.1 s whose node-001 is deleted at 241.5 s,
    the watch delivering every change about 2 s late."""
    data = random_scenario(448)
    data["events"] = [{"at_s": 241.5, "action": "delete_node", "node": "node-001"}]
    data["observe"]["watch_delay_s"] = {"p50": 2.0, "p90": 2.2, "max": None}
    return data


def test_a_deleted_node_is_probed_until_the_watch_shows_its_deletion() -> None:
    result = run(from_dict(_deleted_late(), "deleted late"), seed=448)
    obs = [o for o in result.observations if o.node == "node-001" or o.name == "node-001"]
    (deleted,) = [o for o in obs if o.kind == "Node" and o.op == "DELETED"]
    seen = to_micros(deleted.observed_at)
    start = to_micros(result.observations[0].observed_at) + 241_500_000
    assert seen - start > 1_000_000  # the watch showed it late
    probes = [o for o in obs if o.kind == "NodePortProbe"]
    timeouts = [o for o in probes if o.payload["result"] == "timeout"]
    sent = [to_micros(o.observed_at) - int(o.payload["latency_ms"] * 1000) for o in timeouts]
    assert sent and all(start <= t <= seen for t in sent)
    # nothing is sent to the node after its deletion reached the prober's watch
    assert all(
        to_micros(o.observed_at) - int(o.payload["latency_ms"] * 1000) <= seen for o in probes
    )


def test_the_late_deletion_is_found_as_node_not_ready() -> None:
    result = run(from_dict(_deleted_late(), "deleted late"), seed=448)
    (truth,) = [t for t in result.truth.windows if t.node == "node-001"]
    found = [w for w in replay_windows(result.observations) if w.node == "node-001"]
    assert truth.cls == "node-not-ready"
    start, end = to_micros(parse_time(truth.start)), to_micros(parse_time(truth.end))
    (window,) = [w for w in found if w.start_earliest_us <= start < w.end_latest_us]
    assert window.end_latest_us >= end and window.cls == "node-not-ready"
