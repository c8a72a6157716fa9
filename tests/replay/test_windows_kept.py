"""A node whose kube-proxy metrics looks alone moved, beyond all that F's last find read, keeps
its windows whole where detection cannot read the looks (replay.node_cache `_looks_kept`,
replay.nodealone.reads_looks): neither the suffix's instant nor `windows_from` is found again
for it, and detection, rows and segments stay a rebuild's (and plain `detect`'s) after every
batch of scrapes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.replay import node_cache, nodealone
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.observed import newest_looks
from tests.replay import builders as b
from tests.replay.builders import eps, facts_of, node_unknown, pod, polled, ready_pair
from tests.replay.test_node_cache import _cached, calls_counted
from tests.replay.test_sync_count import scrape
from tests.replay.test_sync_kept import _with_metrics, probed_and_scraped
from tests.replay.test_sync_seen import _scrapes


@pytest.mark.parametrize("late", [False, True])
def test_scrapes_after_what_f_read_detect_nothing_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    """A node probed 100 times (to 200 s) and scraped 300 times, refreshed from the checkpoint
    with scrapes alone: the first refresh finds F (the rebuild's find noted nothing) and
    detects from the suffix's instant on, the next ones neither: no `windows_from`, no
    suffix; the windows, rollouts, lags and segments equal a rebuild's after each. With
    `late`, a scrape before the lane's last (out of time order): detected again. A probe then
    detects it again. Before: every batch of scrapes ran `windows_from` ([1, 1, 1])."""
    detected = calls_counted(monkeypatch, "windows_from")
    suffixed = calls_counted(monkeypatch, "_since")
    refreshed = probed_and_scraped(engine, detected)
    calls = []
    for batch in (_scrapes(301, 2), _scrapes(303, 5), _scrapes(308, 3)):
        suffixed.clear()
        calls.append((refreshed(*batch), len(suffixed)))
    assert calls == [(1, 1), (0, 0), (0, 0)]
    if late:
        assert refreshed(scrape(250.3, 248, 125, 1.25, counted=True)) == 1
    else:
        assert refreshed(*_scrapes(311, 4)) == 0
    assert refreshed(b.health(206, 200, "n1", 1), *_scrapes(315, 2)) == 1


@contextmanager
def _looks_read(state: FoldState) -> Iterator[list[tuple[str, str]]]:
    """The (Service name, node) pairs whose kube-proxy metrics looks node_cache's detection
    steps (`windows_from`, `finished`, `readings_read`) read while this is open: a call of
    replay.sync_index.indexed, or of any method of the fold's `syncs` lanes, under them."""
    pairs: list[tuple[str, str]] = []
    reals = {name: getattr(node_cache, name) for name in _DETECTION}

    def traced(name: str) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            svc, node = args[1], args[2]

            def heard(frame: FrameType, event: str, arg: Any) -> None:
                code = frame.f_code
                if (event == "call" and code.co_name == "indexed") or (
                    event == "c_call" and getattr(arg, "__self__", None) is state.syncs
                ):
                    pairs.append((svc.name, node))

            before = sys.getprofile()
            sys.setprofile(heard)
            try:
                return reals[name](*args, **kwargs)
            finally:
                sys.setprofile(before)

        return step

    for name in _DETECTION:
        setattr(node_cache, name, traced(name))
    try:
        yield pairs
    finally:
        for name, real in reals.items():
            setattr(node_cache, name, real)


_DETECTION = ("windows_from", "finished", "readings_read")
#: the prober's looks at a node (its health check and NodePort)
_PROBES = ("health", "nodeport")


@pytest.mark.parametrize("probed", [True, False])
@pytest.mark.parametrize(("preset", "seed"), [("aws-nlb", 3), ("seed-3node", 7), ("aws-nlb", 11)])
def test_detection_reads_the_looks_only_where_reads_looks_says(
    preset: str, seed: int, probed: bool
) -> None:
    """On simulated runs with metrics, their scrapes folded in batches, every read of a node's
    kube-proxy metrics looks by detection's steps falls on a node `nodealone.reads_looks`
    names (a node with no probe look, as `newest_looks` finds none): the claim `_looks_kept`
    keeps windows by. A rule that reads the looks elsewhere fails here; it must be named
    there. Without `probed`, the runs' probe looks left out (no node has one). Each batch's
    cached detection equals detect's."""
    rest, scrapes = _with_metrics(preset, seed)
    if not probed:
        rest = [[f for f in e if f.fact not in _PROBES] for e in rest]
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, [f for e in rest for f in e])
    cuts = [round(k * len(scrapes) / 6) for k in range(7)]
    read: set[tuple[str, str]] = set()
    for lo, hi in pairwise(cuts):
        fold(state, [f for e in scrapes[lo:hi] for f in e])
        with _looks_read(state) as pairs:
            assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
        read |= set(pairs)
    for svc in lb_facing(state):
        mine = measured_settings(state, svc, DEFAULTS)
        for node in state.service_nodes.get(svc, ()):
            # what node_alone tests first, read without building the looks
            assert nodealone.reads_looks(state, svc, node) == (
                not newest_looks(state, svc, node, mine)
            )
            if (svc.name, node) in read:
                assert nodealone.reads_looks(state, svc, node)


def stopped_unprobed() -> list[Observation]:
    """test_node_alone's stopped node n1, polled by the LB with no probe look (its Node
    Unknown at 150.7 s), beside n2, in time order."""
    rest = [
        *ready_pair(1.0),
        *polled("n2", [5.0 * k for k in range(0, 40)], lambda t: "healthy", 31805),
        *polled(
            "n1", [5.0 * k for k in range(0, 40)],
            lambda t: "healthy" if t < 125 else "unhealthy", 31805,
        ),
        node_unknown(150.7, "n1"),
        pod(150.9, "p1", "n1", "pending"),
        eps(151.0, [("p1", "n1", "unready"), ("p2", "n2", "ready")]),
    ]  # fmt: skip
    return sorted(rest, key=lambda o: o.observed_at)


def test_a_node_without_probes_is_detected_again_on_its_scrapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """test_node_alone's stopped node n1 (polled by the LB, no probe look; its Node Unknown
    at 150.7 s) with its kube-proxy scraped every second, the scrapes folded in batches after
    the rest: detection reads n1's looks (node_alone's `forwarded_through`) and
    `nodealone.reads_looks` says so, so each batch detects n1 again; each batch's cached
    detection equals detect's."""
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, facts_of(stopped_unprobed()))
    assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    detected = calls_counted(monkeypatch, "windows_from")
    per_batch, read = [], set()
    for lo in (1, 60, 120, 180):
        fold(state, facts_of(_scrapes(lo, 60)))
        detected.clear()
        with _looks_read(state) as pairs:
            assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
        per_batch.append(detected.count("n1"))
        read |= {node for _, node in pairs}
    (svc,) = lb_facing(state)
    assert "n1" in read and nodealone.reads_looks(state, svc, "n1")
    assert all(per_batch)
