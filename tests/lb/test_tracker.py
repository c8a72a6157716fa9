"""The pure transition tracker and the node mapping: literal looks in, observations out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gapwatch.recorder.observation import validate
from gapwatch.recorder.sources.lb.nodemap import NodeMap
from gapwatch.recorder.sources.lb.shape import GroupLook, Target
from gapwatch.recorder.sources.lb.tracker import RESUMED, ServiceKey, Tracker
from gapwatch.recorder.sources.view import NodeInfo

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SVC = ServiceKey("istio-system", "istio-ingressgateway")


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def group(*targets: Target, attributes: dict[str, str] | None = None) -> GroupLook:
    return GroupLook(
        group="tg-1", targets=targets, health_check_port="31805", attributes=attributes or {}
    )


def tgt(ident: str, state: str, **kw: object) -> Target:
    return Target(id=ident, port=32999, state=state, **kw)  # type: ignore[arg-type]


def by_node(name: str) -> NodeMap:
    return NodeMap([NodeInfo(name=name, addresses=(), provider_id=f"aws:///eu-west-1a/{name}")])


def test_changes_deletions_and_heartbeats_carry_the_previous_look_as_lower_bound() -> None:
    tracker = Tracker(cluster="c", heartbeat_s=60)
    first = tracker.observe(t(0), group(tgt("i-a", "initial")), service=SVC, started=t(-0.2))
    assert [(o.op, o.previous_observed_at) for o in first] == [("ADDED", None)]
    assert first[0].payload["HealthCheckPort"] == "31805"
    assert tracker.observe(t(5), group(tgt("i-a", "initial")), started=t(4.8)) == []
    changed = tracker.observe(t(10), group(tgt("i-a", "healthy")), service=SVC, started=t(9.9))
    assert [(o.op, o.previous_observed_at) for o in changed] == [("MODIFIED", t(4.8))]
    assert changed[0].payload["TargetHealth"] == {"State": "healthy"}
    assert (changed[0].namespace, changed[0].name) == (SVC.namespace, SVC.name)
    beat = tracker.observe(t(70), group(tgt("i-a", "healthy")), started=t(70))
    assert [o.op for o in beat] == ["OBSERVED"]
    gone = tracker.observe(t(75), group(), started=t(75))
    assert [o.op for o in gone] == ["DELETED"]
    assert gone[0].payload["TargetHealth"]["State"] == "healthy"  # the last state seen
    for obs in first + changed + beat + gone:
        validate(obs)


def test_a_failed_look_only_widens_the_next_bounds() -> None:
    tracker = Tracker(cluster="c")
    tracker.observe(t(0), group(tgt("i-a", "healthy")), started=t(0))
    # looks at 5 and 10 failed (never reached the tracker); the next good one is at 15
    out = tracker.observe(t(15), group(tgt("i-a", "unhealthy")), started=t(14.9))
    assert out[0].previous_observed_at == t(0)


def test_node_mapping_by_provider_id_and_ip_and_unmapped_targets_keep_their_id() -> None:
    nodes = NodeMap(
        [
            NodeInfo("aws-node", (("InternalIP", "10.0.1.4"),), "aws:///eu-west-1a/i-0abc"),
            NodeInfo("ali-node", (), "cn-hangzhou.i-bp1c3zrr37ablp8ujo7v"),
            NodeInfo("tke-node", (), "qcloud:///800002/ins-19425y2y"),
            NodeInfo("ip-node", (("InternalIP", "172.16.0.6"),), None),
        ]
    )
    assert nodes.node_of(tgt("i-0abc", "healthy")) == "aws-node"
    assert nodes.node_of(tgt("10.0.1.4", "healthy")) == "aws-node"  # ELBv2 IP target
    assert nodes.node_of(tgt("i-bp1c3zrr37ablp8ujo7v", "healthy")) == "ali-node"
    assert nodes.node_of(tgt("ins-19425y2y", "healthy")) == "tke-node"
    assert nodes.node_of(tgt("member-1", "healthy", ip="172.16.0.6")) == "ip-node"
    assert nodes.node_of(tgt("i-unknown", "healthy")) is None
    tracker = Tracker(cluster="c")
    out = tracker.observe(t(0), group(tgt("i-unknown", "healthy")), node_of=nodes.node_of)
    assert out[0].node is None and out[0].payload["Target"]["Id"] == "i-unknown"


def test_a_node_appearing_later_re_maps_the_target() -> None:
    tracker = Tracker(cluster="c")
    look = group(tgt("i-late", "healthy"))
    assert tracker.observe(t(0), look, node_of=NodeMap([]).node_of)[0].node is None
    out = tracker.observe(t(5), look, node_of=by_node("i-late").node_of)
    # stored at once with its node, but as a look, not a change: the target did not change (two
    # replicas learning the node at different moments must not make two transitions of it)
    assert [(o.op, o.node) for o in out] == [("OBSERVED", "i-late")]
    assert tracker.observe(t(10), look, node_of=by_node("i-late").node_of) == []


def test_timing_attributes_are_recorded_when_they_change() -> None:
    tracker = Tracker(cluster="c")
    attrs = {"deregistration_delay.timeout_seconds": "300", "HealthCheckIntervalSeconds": "10"}
    first = tracker.observe(t(0), group(attributes=attrs))
    assert [(o.kind, o.op) for o in first] == [("TargetGroupAttributes", "ADDED")]
    assert first[0].payload["Attributes"] == attrs
    assert tracker.observe(t(5), group(attributes=attrs)) == []
    changed = dict(attrs, **{"deregistration_delay.timeout_seconds": "30"})
    out = tracker.observe(t(10), group(attributes=changed))
    assert [(o.kind, o.op) for o in out] == [("TargetGroupAttributes", "MODIFIED")]
    validate(out[0])


def test_weight_is_part_of_the_transition_for_other_clouds() -> None:
    tracker = Tracker(cluster="c")
    look = GroupLook(
        group="rsp-1", cloud="alibaba-slb", targets=(tgt("i-a", "healthy", weight=100),)
    )
    tracker.observe(t(0), look)
    drained = GroupLook(
        group="rsp-1",
        cloud="alibaba-slb",
        targets=(tgt("i-a", "draining", weight=0, reason="Target.WeightZero"),),
    )
    out = tracker.observe(t(5), drained)
    assert [o.op for o in out] == ["MODIFIED"]
    assert out[0].payload["Weight"] == 0 and out[0].payload["Cloud"] == "alibaba-slb"
    assert out[0].payload["TargetHealth"] == {"State": "draining", "Reason": "Target.WeightZero"}


def test_the_schema_checks_target_group_attributes() -> None:
    import pytest

    from gapwatch.recorder.errors import ObservationError
    from gapwatch.recorder.observation import from_dict

    out = Tracker(cluster="c").observe(t(0), group(attributes={"slow_start.duration_seconds": "0"}))
    data = out[0].to_dict()
    data["payload"]["Attributes"]["slow_start.duration_seconds"] = 0
    with pytest.raises(ObservationError, match="Attributes"):
        from_dict(data)


def test_folding_the_transitions_rebuilds_every_look() -> None:
    """Property: applying the tracker's output to a map gives back each look's members and states,
    and every transition's bounds are the previous look's start and this look's answer (a
    heartbeat's: the previous look's start and its own)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    looks = st.lists(
        st.dictionaries(
            st.sampled_from(["i-a", "i-b", "i-c", "i-d"]),
            st.sampled_from(["initial", "healthy", "unhealthy", "draining"]),
        ),
        min_size=1,
        max_size=12,
    )

    @settings(max_examples=200, deadline=None)
    @given(looks)
    def check(sequence: list[dict[str, str]]) -> None:
        tracker = Tracker(cluster="c", heartbeat_s=12)
        folded: dict[str, str] = {}
        for i, members in enumerate(sequence):
            look = group(*(tgt(k, v) for k, v in sorted(members.items())))
            out = tracker.observe(t(5 * i), look, started=t(5 * i - 1))
            for obs in out:
                ident = obs.payload["Target"]["Id"]
                if obs.op == "DELETED":
                    folded.pop(ident)
                else:
                    assert (
                        obs.op != "OBSERVED"
                        or folded[ident] == obs.payload["TargetHealth"]["State"]
                    )
                    folded[ident] = obs.payload["TargetHealth"]["State"]
                # a transition when its answer came, a heartbeat when its look was asked
                asked = obs.op == "OBSERVED"
                assert obs.observed_at == (t(5 * i - 1) if asked else t(5 * i))
                assert obs.previous_observed_at == (None if i == 0 else t(5 * i - 6))
            assert folded == members

    check()


def test_a_seeded_groups_first_look_says_it_resumed() -> None:
    """A restart (issue 17): the first look's bound is the stored observation from before it,
    not a look of this poller, and says so; later looks bound by its own looks, unmarked."""
    stored = Tracker(cluster="c").observe(t(0), group(tgt("i-a", "healthy")), started=t(-0.1))
    tracker = Tracker(cluster="c", heartbeat_s=60)
    tracker.seed("tg-1", "i-a:32999", dict(stored[0].payload), None, t(0))
    first = tracker.observe(
        t(58), group(tgt("i-a", "draining"), tgt("i-b", "initial")), started=t(57.9)
    )
    assert [(o.op, o.previous_observed_at, o.payload.get(RESUMED)) for o in first] == [
        ("MODIFIED", t(0), True),
        ("ADDED", t(0), True),
    ]
    for obs in first:
        validate(obs)
    later = tracker.observe(t(63), group(tgt("i-a", "unused")), started=t(62.9))
    assert [(o.op, o.previous_observed_at, RESUMED in o.payload) for o in later] == [
        ("MODIFIED", t(57.9), False),
        ("DELETED", t(57.9), False),
    ]
    # a poller that never restarted marks nothing
    assert all(RESUMED not in o.payload for o in stored)


def test_a_stored_mark_is_no_change() -> None:
    """The next restart seeds from a payload that carries the mark: the same state, no
    MODIFIED (nor a mark in what it stores later)."""
    tracker = Tracker(cluster="c", heartbeat_s=60)
    tracker.seed("tg-1", "i-a:32999", {**_stored_draining(), RESUMED: True}, None, t(0))
    assert tracker.observe(t(5), group(tgt("i-a", "draining")), started=t(4.9)) == []
    gone = tracker.observe(t(10), group(), started=t(9.9))
    assert [(o.op, RESUMED in o.payload) for o in gone] == [("DELETED", False)]


def _stored_draining() -> dict[str, object]:
    looked = Tracker(cluster="c").observe(t(0), group(tgt("i-a", "draining")))
    return dict(looked[0].payload)
