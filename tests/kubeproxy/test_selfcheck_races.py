"""The self-check's rules on hand-timed looks (selfcheck.py is pure): the health look and the
NodePort look are not atomic, so a proof needs a health look counting none that ended before the
NodePort look began and another that began after it ended, nothing else in between, the slices
listing nothing for the settle time; three proofs decide, a look that saw the node drop forgets
them, and without slices nothing is decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gapwatch.recorder.errors import ObservationError
from gapwatch.recorder.observation import from_dict, validate
from gapwatch.recorder.sources.kubeproxy.selfcheck import (
    SelfCheck,
    counts_none,
    verdict_observation,
)
from gapwatch.recorder.sources.kubeproxy.targets import Target
from gapwatch.recorder.sources.kubeproxy.tracker import TargetKey
from gapwatch.replay.facts import derive

T0 = datetime(2026, 12, 6, tzinfo=UTC)
PAIR = ("default/nginx", "node-2")
NONE = {"status": 503, "body": {"localEndpoints": 0, "serviceProxyHealthy": True}}
ONE = {"status": 200, "body": {"localEndpoints": 1, "serviceProxyHealthy": True}}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def health(check: SelfCheck, start: float, answer: dict[str, object] = NONE,
           listed: int | None = 0) -> object:  # fmt: skip
    return check.health(PAIR, at(start), at(start + 0.01), answer, listed)


def nodeport(check: SelfCheck, start: float, result: str = "connected",
             listed: int | None = 0) -> None:  # fmt: skip
    check.nodeport(PAIR, at(start), at(start + 0.01), result, listed)


def rounds(check: SelfCheck, starts: list[float], result: str = "connected") -> object:
    """A health look at each start, a NodePort look half-way to the next."""
    decided = None
    for s in starts:
        decided = health(check, s) or decided
        nodeport(check, s + 0.5, result)
    return decided


def test_three_sandwiched_proofs_decide_two_do_not() -> None:
    check = SelfCheck(settle_s=0)
    assert rounds(check, [0, 1, 2]) is None  # the third NodePort look waits for a health look
    assert check.proofs == 2
    proofs = health(check, 3)
    assert isinstance(proofs, list) and len(proofs) == 3 and check.decided is not None
    assert [p.nodeport_started for p in proofs] == [at(0.5), at(1.5), at(2.5)]
    assert health(check, 4) is None  # once


def test_a_late_health_look_closes_every_nodeport_look_before_it_at_once() -> None:
    """Under load the health looks come late (session 27's merged suite, -n 2): two NodePort
    looks between the same two health looks are two proofs, closed by one look; from two, the
    verdict carries all four, not the three that would have sufficed."""
    check = SelfCheck(settle_s=0)
    assert rounds(check, [0, 1, 2]) is None and check.proofs == 2
    nodeport(check, 2.8)  # a second look before the late health look at 3 s
    proofs = health(check, 3)
    assert isinstance(proofs, list)
    assert [p.nodeport_started for p in proofs] == [at(0.5), at(1.5), at(2.5), at(2.8)]


def test_a_nodeport_look_overlapping_a_health_look_is_no_proof() -> None:
    check = SelfCheck(settle_s=0)
    health(check, 0)
    # began before the health look counting none ended
    check.nodeport(PAIR, at(-0.2), at(0.3), "connected", 0)
    # still in flight when the next health look began: it waits for the one after
    check.nodeport(PAIR, at(0.9), at(1.2), "connected", 0)
    health(check, 1.0)
    assert check.proofs == 0
    health(check, 2.0)
    assert check.proofs == 1


def test_an_endpoint_counted_or_listed_in_between_voids_the_looks_since() -> None:
    check = SelfCheck(settle_s=0)
    health(check, 0)
    nodeport(check, 0.5)
    health(check, 1, ONE)  # a pod became ready: the connected look may have been it
    health(check, 2)
    assert check.proofs == 0
    nodeport(check, 2.5)
    health(check, 3, listed=1)  # the slices list one again
    assert check.proofs == 0


def test_a_look_that_saw_the_node_drop_forgets_the_proofs() -> None:
    check = SelfCheck(settle_s=0)
    rounds(check, [0, 1])
    health(check, 2)
    assert check.proofs == 2
    nodeport(check, 2.5, "timeout")  # as the LB sees it: not short-circuited, then
    assert rounds(check, [3, 4]) is None
    assert health(check, 5) is None  # two proofs since, not three
    nodeport(check, 5.5)
    assert isinstance(health(check, 6), list)


def test_nothing_is_decided_before_the_slices_settle_or_without_them() -> None:
    check = SelfCheck(settle_s=10)
    assert rounds(check, [float(s) for s in range(9)]) is None
    assert check.proofs == 0  # the slices listed nothing only since 0
    unknown = SelfCheck(settle_s=0)
    for s in range(10):
        unknown.health(PAIR, at(s), at(s + 0.01), NONE, None)
        unknown.nodeport(PAIR, at(s + 0.5), at(s + 0.51), "connected", None)
    assert unknown.proofs == 0 and unknown.decided is None


def test_what_counts_as_no_ready_local_endpoint() -> None:
    assert counts_none(NONE)
    assert not counts_none(ONE)
    stuck = {"status": 503, "body": {"localEndpoints": 0, "serviceProxyHealthy": False}}
    assert not counts_none(stuck)  # a stuck kube-proxy may still run older rules
    assert not counts_none({"status": None, "error": "timeout", "body": None})
    assert counts_none({"status": 503, "body": {"localEndpoints": 0}})  # before 1.27


def test_the_verdict_is_an_observation_the_contract_accepts() -> None:
    check = SelfCheck(settle_s=0)
    rounds(check, [0, 1, 2])
    proofs = health(check, 3)
    assert isinstance(proofs, list)
    health_target = Target(TargetKey("ProxyHealth", "node-2", "default", "nginx"),
                           "10.0.0.2", 31805, "http")  # fmt: skip
    verdict = validate(verdict_observation("c1", health_target, 32000, proofs, at(3.01)))
    assert verdict.kind == "NodePortSelfCheck" and verdict.payload["verdict"] == "short-circuited"
    assert verdict.previous_observed_at == at(0.01)
    assert [f.fact for f in derive(1, verdict)] == ["selfcheck"]
    wrong = verdict.to_dict() | {"payload": {**verdict.payload, "verdict": "fine"}}
    with pytest.raises(ObservationError, match="verdict"):
        from_dict(wrong)


def test_a_proof_is_stored_with_rfc3339_times() -> None:
    check = SelfCheck(settle_s=0)
    rounds(check, [0, 1, 2])
    proofs = health(check, 3)
    assert isinstance(proofs, list)
    assert proofs[0].as_payload() == {
        "health_before": "2026-12-06T00:00:00.010000Z",
        "nodeport_started": "2026-12-06T00:00:00.500000Z",
        "nodeport_finished": "2026-12-06T00:00:00.510000Z",
        "health_after_started": "2026-12-06T00:00:01.000000Z",
    }


def test_a_pair_no_target_looks_at_any_more_is_forgotten() -> None:
    # two proofs at a node, then the node leaves (an autoscaler's scale-down) and comes back
    # under the same name: its old proofs are gone with it, and months of node churn keep
    # nothing of the nodes that left
    check = SelfCheck(settle_s=0)
    rounds(check, [0, 1, 2])
    assert check.proofs == 2
    check.keep_only(set())
    assert check._pairs == {}
    # two new proofs after it: two, not four (which would decide)
    assert rounds(check, [10, 11]) is None and health(check, 12) is None
    assert check.decided is None
