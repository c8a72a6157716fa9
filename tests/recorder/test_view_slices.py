"""The ClusterView's EndpointSlice listing (the prober's NodePort self-check reads it) keeps only
what the slices still list: a recorder runs for months, and a Service deleted with its slices
left an empty map behind for good (recorder/sources/view.py)."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sources.view import ClusterView


def _slice(name: str, nodes: list[str]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "istio-system",
            "labels": {"kubernetes.io/service-name": "gw"},
        },
        "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": n} for n in nodes],
    }


def test_slices_are_counted_per_node_and_forgotten_with_the_last_one() -> None:
    view = ClusterView()
    view.wants_slices = True  # as the prober's self-check asks
    assert view.listed_endpoints("istio-system/gw", "n1") is None  # nothing seen: unknown
    view.observe("EndpointSlice", "ADDED", _slice("gw-a", ["n1", "n1", "n2"]))
    view.observe("EndpointSlice", "ADDED", _slice("gw-b", ["n1"]))
    assert view.listed_endpoints("istio-system/gw", "n1") == 3
    assert view.listed_endpoints("istio-system/gw", "n3") == 0
    view.observe("EndpointSlice", "DELETED", _slice("gw-a", ["n1", "n1", "n2"]))
    assert view.listed_endpoints("istio-system/gw", "n1") == 1
    view.observe("EndpointSlice", "DELETED", _slice("gw-b", ["n1"]))
    assert view.listed_endpoints("istio-system/gw", "n1") is None
    assert view._slices == {}  # nothing left for a Service whose slices are gone


def test_a_view_nobody_asked_for_slices_keeps_none() -> None:
    """Without the self-check (its default: `nodeport: fallback`) nothing reads the listing: the
    view keeps none, and the Kubernetes source loads no stored slice at its start for it."""
    view = ClusterView()
    view.observe("EndpointSlice", "ADDED", _slice("gw-a", ["n1"]))
    assert view.listed_endpoints("istio-system/gw", "n1") is None
    assert view._slices == {}
