"""kube-proxy's rules-sync count between two looks of one process (replay/synccount.py): no
sync in between, or exactly one, pins when kube-proxy changed a node's forwarding.

Hand-built looks (SyncLook as replay.fold makes them from the prober's scrapes) for the rules
themselves, and literal observations (health-check answers, scrapes as the prober stores them,
TargetHealth as the poller does) for the window they decide."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, Sample, SyncLook, fold
from gapwatch.replay.lanes import lanes
from gapwatch.replay.model import Window
from gapwatch.replay.signals import Iv, Step
from gapwatch.replay.synccount import by_sync, outside_quiet, quiet_spans
from gapwatch.replay.syncorder import synced_on
from gapwatch.replay.syncs import index_looks, reach_us
from tests.replay.builders import CLUSTER, at, eps, facts_of, health, pod, service, target
from tests.replay.builders import node as node_obj

S = 1_000_000
SPAN = 1 * S  # sync_span_s's default
PROC = 1_700_000_000 * S


def look(
    at_s: float,
    synced_s: float,
    syncs: int | None,
    *,
    busy_s: float | None = None,
    process: int | None = PROC,
    latency_s: float = 0.01,
) -> SyncLook:
    busy = None if busy_s is None else round(busy_s * S)
    written = round(at_s * S)
    return SyncLook(written, round(synced_s * S), None, 1, True, syncs, busy, process,
                    written + round(latency_s * S))  # fmt: skip


def test_no_sync_between_two_looks_is_a_quiet_span() -> None:
    spans = quiet_spans([look(10, 5, 7), look(12, 5, 7)], SPAN, 0)
    assert spans == [Iv(round(10.01 * S), 12 * S, 1, 1)]


def test_one_sync_leaves_only_its_own_duration_open() -> None:
    """The histogram's sum grew by 0.2 s: the one sync ran within 0.2 s before its end at 11.5 s
    (and wrote the health-check counts at most that long after it)."""
    spans = quiet_spans([look(10, 5, 7, busy_s=3.0), look(12, 11.5, 8, busy_s=3.2)], SPAN, 0)
    # (start, end]: the first ends the last microsecond before the sync can have begun
    before, after = (
        Iv(round(10.01 * S), round(11.3 * S) - 1, 1, 1),
        Iv(round(11.7 * S), 12 * S, 1, 1),
    )
    assert spans == [before, after]
    # without the sum, the assumed longest sync; with a clock skew, that much more each side
    spans = quiet_spans([look(10, 5, 7), look(12, 11.5, 8)], SPAN, S // 10)
    assert spans == [Iv(round(10.01 * S), round(10.4 * S) - 1, 1, 1)]


def test_what_the_count_cannot_say_claims_nothing() -> None:
    cases = [
        [look(10, 5, 7), look(12, 11.5, 9)],  # two syncs
        [look(10, 5, 7), look(12, 11.5, 1, process=PROC + 30 * S)],  # kube-proxy restarted
        [look(10, 5, 7, process=None), look(12, 5, 7, process=None)],  # process unknown
        [look(10, 5, None), look(12, 5, None)],  # no count on the page
        [look(10, 5, 7), look(12, 5, 8)],  # one sync, failed: no newer end
        [look(10, 5, 7), look(12, 5, 6)],  # a count that went down
    ]
    for looks in cases:
        assert quiet_spans(looks, SPAN, 0) == [], looks


def test_spans_on_both_sides_of_a_look_join_across_its_latency() -> None:
    spans = quiet_spans([look(8, 5, 7), look(10, 5, 7), look(12, 5, 7)], SPAN, 0)
    assert spans == [Iv(round(8.01 * S), 12 * S, 1, 1)]


def test_a_change_a_sync_made_moves_out_of_the_quiet_spans() -> None:
    quiet = [Iv(10 * S, 11 * S), Iv(13 * S, 14 * S)]
    half = S // 2
    moved = outside_quiet(Step(10 * S + half, 13 * S + half, True, 3), quiet)
    assert moved == Step(11 * S, 13 * S, True, 3)
    # (start, end]: a change at a span's start stays possible, at its end not
    assert outside_quiet(Step(10 * S, 14 * S, True, 3), quiet) == Step(10 * S, 13 * S, True, 3)
    assert outside_quiet(Step(9 * S, 12 * S, True, 3), quiet) == Step(9 * S, 12 * S, True, 3)
    # covered all over: not a sync's change (a node, a pod): the probe's bounds stay
    assert outside_quiet(Step(int(10.2 * S), int(10.8 * S), False, 3), quiet).earliest == int(
        10.2 * S
    )


def test_only_answers_a_sync_sets_tie_a_health_change_to_a_sync() -> None:
    def sample(t: float, value: str, num: int | None) -> Sample:
        return Sample(round(t * S), None, value, round(t), num)

    lane = [sample(10, "200", 1), sample(12, "503", 0), sample(14, "200", 1),
            sample(16, "503", 2), sample(18, "timeout", None), sample(20, "200", 1)]  # fmt: skip
    made = by_sync(lane)
    change = [Step(lane[i - 1].at_us, lane[i].at_us, lane[i].value == "200", lane[i].event_id)
              for i in range(1, len(lane))]  # fmt: skip
    # 200 -> 503 counting none and back: a sync; kube-proxy unhealthy (503 counting some), a
    # timeout: not a sync
    assert [made(step) for step in change] == [True, True, False, False, False]


# -- the window it decides -------------------------------------------------------------------

SETTINGS = DetectSettings(ccm_mode="endpoint", proxy_terminating_endpoints=False)
LAST = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
RULES = "kubeproxy_sync_proxy_rules_duration_seconds"


def scrape(t: float, synced: float, syncs: int, busy: float, counted: bool) -> Observation:
    metrics: dict[str, float] = {LAST: at(synced).timestamp()}
    if counted:
        metrics |= {RULES + "_count": float(syncs), RULES + "_sum": busy,
                    "process_start_time_seconds": at(-600).timestamp()}  # fmt: skip
    payload: dict[str, Any] = {"port": 10249, "address": "10.0.0.11", "latency_ms": 4.0,
                               "status": 200, "error": None, "metrics": metrics,
                               "derived": None, "look": "sample"}  # fmt: skip
    return Observation(at(t + 0.004), CLUSTER, "kube-proxy-probe", "ProxyMetrics", "OBSERVED",
                       payload, node="n1")  # fmt: skip


def closing_obs(counted: bool, version: str = "v1.25.16", late: float = 0.0) -> list[Observation]:
    """n1's only pod leaves the slice at 20 s (`late` later); kube-proxy's one sync after it
    ends 0.4 s later and ran 0.1 s (its health check answered 200 at 20 s, 503 at 22 s); the
    endpoint-driven CCM deregisters n1 after the poll at 21 s that still saw it healthy (absent
    at 23 s). The prober scrapes kube-proxy every 2 s from 18 s to 90 s."""
    t = late
    obs = [
        service(0),
        node_obj(0, "n1", version=version),
        node_obj(0, "n2", version=version),
        pod(0, "p1", "n1", "ready"),
        pod(0, "p2", "n2", "ready"),
        eps(0, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        health(0, None, "n1", 1),
        health(0, None, "n2", 1),
        target(0, None, "n1", "healthy", op="ADDED"),
        target(0, None, "n2", "healthy", op="ADDED"),
        eps(t + 20, [("p2", "n2", "ready")]),
        health(t + 18, 0, "n1", 1),
        health(t + 20, t + 18, "n1", 1),
        health(t + 22, t + 20, "n1", 0),
        health(t + 24, t + 22, "n1", 0),
        health(t + 26, t + 24, "n1", 0),
        target(t + 21, 0, "n1", "healthy"),
        target(t + 23, t + 21, "n1", "absent", op="DELETED"),
    ]
    for look in range(18, 92, 2):
        synced, syncs, busy = (1.0, 5, 0.5) if look <= 20 else (t + 20.4, 6, 0.6)
        obs.append(scrape(t + look, synced, syncs, busy, counted))
    return sorted(obs, key=lambda o: o.observed_at)


def closing(counted: bool, version: str = "v1.25.16", late: float = 0.0) -> list[Window]:
    found = detect(fold(FoldState(), facts_of(closing_obs(counted, version, late))),
                   settings=SETTINGS)  # fmt: skip
    return [w for w in found if w.node == "n1"]


def test_one_sync_makes_a_closed_before_deregistered_window_certain() -> None:
    """Without the count the health check closed somewhere in (20, 22] and the LB, seen
    routing at 21 s, may have let go first; with it kube-proxy closed within 0.1 s of 20.4 s:
    surely before the LB's last look that still routed."""
    (alone,) = closing(counted=False)
    (pinned,) = closing(counted=True)
    assert not alone.certain
    assert pinned.certain and pinned.cls == "closed-before-deregistered"
    assert pinned.start_latest_us <= int(at(20.5).timestamp() * S)


def test_with_pte_the_inferred_terminating_lane_closes_at_the_one_sync() -> None:
    """kube-proxy 1.29 (ProxyTerminatingEndpoints): what a terminating endpoint forwards is
    inferred from the slice and the assumed lag (up to 60 s); the counts leave kube-proxy only
    its one sync's duration (20.3-20.5 s after the slice change at 120 s) to close n1."""

    def serves_until(counted: bool) -> tuple[int, int]:
        state = fold(FoldState(), facts_of(closing_obs(counted, "v1.29.3", late=100.0)))
        (svc,) = {svc for svc, node in state.endpoints if node == "n1"}
        found = lanes(state, svc, "n1", SETTINGS, 60 * S)
        return found.serves.definite[-1].end, found.serves.possible[-1].end

    t0 = int(at(0).timestamp() * S)
    assert serves_until(counted=False) == (t0 + 120 * S, t0 + 180 * S)
    assert serves_until(counted=True) == (t0 + round(120.3 * S) - 1, t0 + round(120.5 * S))


def test_a_probed_turn_on_lies_in_the_one_sync_that_programmed_it() -> None:
    """The node's set turned on at 9 s; the NodePort connected at 14 s, not at 11 s. The looks
    at 10 and 12 s show no sync since 5 s, the one at 14 s one sync (0.1 s long) that ended at
    13.5 s: the turn-on lies in 13.4-13.5 s, not 11-13.5 s (replay.syncorder alone)."""
    probe = [Step(11 * S, 14 * S, True, 9)]
    forwardable = [Step(9 * S, 9 * S, True, 2)]
    looks = [look(10, 5, 5, busy_s=1.0), look(12, 5, 5, busy_s=1.0),
             look(14, 13.5, 6, busy_s=1.1)]  # fmt: skip
    index = index_looks(looks)
    reach = reach_us(SETTINGS)
    (alone,) = synced_on(probe, forwardable, index, reach)
    assert (alone.earliest, alone.latest) == (11 * S, round(13.5 * S))
    quiet = quiet_spans(looks, SPAN, 0)
    (pinned,) = synced_on(probe, forwardable, index, reach, quiet)
    assert (pinned.earliest, pinned.latest) == (round(13.4 * S) - 1, round(13.5 * S))
    # a turn-on where the set did not turn on first (a node back): left as the probe has it
    (other,) = synced_on(probe, [], index, reach, quiet)
    assert other == probe[0]


def test_a_pod_back_behind_rules_that_never_dropped_it_is_no_syncs_turn_on() -> None:
    """n1's only endpoint went not ready at 20 s (its container restarted) and ready again at
    30 s; kube-proxy ran no sync from 5 s to 34.5 s, so its rules named the pod throughout and
    F came back with the container, not with a sync (random 5,000,486 node-002, with the
    histogram's `_sum` on the page: the turn-on pinned to the sync made a certain false
    window). The NodePort refused at 33 s and connected at 35 s: the turn-on stays (33, 34.5]
    (the sync's end still bounds it above), not moved to the sync. Where a sync at 22 s
    programmed the empty set, only a sync can turn F on again: moved as before."""
    probe = [Step(33 * S, 35 * S, True, 9)]
    forwardable = [Step(0, 0, True, 1), Step(20 * S, 20 * S, False, 2),
                   Step(30 * S, 30 * S, True, 3)]  # fmt: skip
    reach = reach_us(SETTINGS)

    def turned_on(last_sync_s: float) -> Step:
        looks = [look(31, last_sync_s, 5, busy_s=0.0), look(33, last_sync_s, 5, busy_s=0.0),
                 look(35, 34.5, 6, busy_s=0.0)]  # fmt: skip
        quiet = quiet_spans(looks, SPAN, 0)
        (step,) = synced_on(probe, forwardable, index_looks(looks), reach, quiet)
        return step

    never_dropped = turned_on(5)
    assert (never_dropped.earliest, never_dropped.latest) == (33 * S, round(34.5 * S))
    programmed_empty = turned_on(22)
    assert programmed_empty.earliest == round(34.5 * S) - 1
