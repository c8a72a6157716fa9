"""A pod's stop seen within the watch skew of a listing that had already taken its endpoint out
of forwarding while still showing it serving (detect `_fell_serving`): with the gate off that
listing is the deletion's, which closes kube-proxy whatever the container does, and only the
times order it against the stop; within the skew they do not, so the pods' stop is no proof
that the window opened with them. The shape of random 29,000,522 node-001 (the sixteenth
spent set, "Classes on the sixteenth spent set"): kube-proxy 1.25 (the gate off, as its
default), the Service scaled to zero, kube-proxy closing on the deletion's listing before the
container stopped. Literal observations; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import eps, facts_of, health, nodeport, pod, ready_pair, target

PGBD = "pod-gone-before-deregistered"
CBD = "closed-before-deregistered"
VERSION = "v1.25.16"


def _scaled_to_zero(stop_seen: float, listed: str = "terminating") -> list[Observation]:
    """p1 on n1 and p2 on n2 ready from 1 s (both nodes registered healthy then), both
    deleted at 10 s; the slice lists p1 `listed` and p2 serving-terminating from 11.35 s; p1's
    container stops (finishedAt 11 s) and the Pod update that says so is seen at `stop_seen`.
    n1's health check and NodePort look every 5 s: 200 and connected to 10 s, 503 and refused
    (the Service has no usable endpoint) from 15 s; the LB drains n1 at 24-25 s."""
    return [
        *ready_pair(1, VERSION),
        nodeport(1, None, "n1", "connected"),
        health(1, None, "n1", 1),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        pod(10, "p2", "n2", "terminating", deleted_at=10),
        eps(11.35, [("p1", "n1", listed), ("p2", "n2", "terminating")]),
        pod(stop_seen, "p1", "n1", "gone", deleted_at=10, finished=11),
        nodeport(15, 10, "n1", "refused"),
        health(15, 10, "n1", 0),
        eps(16, [("p2", "n2", "terminating")]),
        target(25, 24, "n1", "draining"),
    ]


def _n1(obs: list[Observation]) -> list[tuple[str, tuple[str, ...]]]:
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also) for w in found if w.node == "n1"]


def test_a_stop_seen_within_the_skew_of_the_deletions_listing_names_the_close() -> None:
    """The stop seen 0.35 s after the listing that took p1 out (main: a certain
    pod-gone-before-deregistered naming nothing else)."""
    [(cls, also)] = _n1(_scaled_to_zero(11.7))
    assert {cls, *also} >= {CBD, PGBD}


def test_a_listing_that_shows_the_pod_stopped_follows_its_stop() -> None:
    """The listing that took p1 out shows it no longer serving: the stop's own, written after
    the kubelet reported it, so the pods stopped first whatever the times say."""
    assert _n1(_scaled_to_zero(11.7, listed="stopped")) == [(PGBD, ())]
