"""replay.measure.watch_skew reads how late exactly the Service's own objects were seen: its
EndpointSlices, the pods they named and the nodes it has lanes on, not another Service's nor
another namespace's (the look-ups rewritten for speed in session 15, refresh round 11)."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState
from gapwatch.replay.measure import watch_skew
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import Late

SVC = ServiceRef("prod", "shop", "web")
OTHER = ServiceRef("prod", "shop", "api")


def _state(node_late_us: int) -> FoldState:
    state = FoldState()
    state.service_pods[SVC] = {"web-1": "node-a"}
    state.service_nodes[SVC] = {"node-a"}
    state.service_pods[OTHER] = {"api-1": "node-b"}
    late = state.own.late
    late[("slice", SVC)] = Late(stamped=1, bound_max_us=1_000_000, raw_max_us=1_000_000)
    late[("prod", "shop", "web-1")] = Late(stamped=1, bound_max_us=2_000_000, raw_max_us=2_000_000)
    late[("prod", "node-a")] = Late(stamped=1, bound_max_us=node_late_us, raw_max_us=node_late_us)
    # another Service's pod, the same pod name in another namespace, another node: not read
    late[("slice", OTHER)] = Late(stamped=5, bound_max_us=9_000_000, raw_max_us=9_000_000)
    late[("prod", "shop", "api-1")] = Late(stamped=5, bound_max_us=9_000_000, raw_max_us=9_000_000)
    late[("prod", "other", "web-1")] = Late(stamped=5, bound_max_us=9_000_000)
    late[("prod", "node-b")] = Late(stamped=5, bound_max_us=9_000_000, raw_max_us=9_000_000)
    return state


def test_the_services_slices_pods_and_nodes_and_nothing_else() -> None:
    settings = replace(DEFAULTS, min_measurements=3)
    skew = watch_skew(_state(3_000_000), SVC, settings)
    assert (skew.value, skew.samples) == (3.0, 3)  # the node's lateness is the largest
    skew = watch_skew(_state(500_000), SVC, settings)
    assert (skew.value, skew.samples) == (2.0, 3)  # the pod's
    assert "own write times" in skew.source
