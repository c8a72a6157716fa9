"""Impact from access-log fields (replay.impact.access_impact): a line counts when it is the LB's
own 502/503/504 with no target answer, and belongs to the node whose address and the Service
whose NodePort its target names; a line tied to no node is unknown, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gapwatch.recorder.importers.accesslog import parse
from gapwatch.recorder.importers.base import Context
from gapwatch.recorder.observation import Observation
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.impact import access_impact, failed_requests
from gapwatch.replay.model import ServiceRef, Window

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SVC = ServiceRef("prod", "istio-system", "gw")


def _obs(kind: str, payload: dict[str, Any], seconds: float, **ident: Any) -> Observation:
    at = T0 + timedelta(seconds=seconds)
    return Observation(at, "prod", "test", kind, "ADDED", payload, source_time=at, **ident)


def _node(name: str, ip: str) -> Observation:
    payload = {
        "metadata": {"name": name},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ]
        },
    }
    return _obs("Node", payload, 0, name=name, node=name)


def _service() -> Observation:
    payload = {
        "metadata": {"name": "gw", "namespace": "istio-system"},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "ports": [{"port": 80, "nodePort": 31805}],
        },
    }
    return _obs("Service", payload, 0, namespace="istio-system", name="gw")


def _line(seconds: float, target: str, elb: str = "502", answered: str = "-") -> Observation:
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line = (
        f"http {when} app/gw/1 203.0.113.7:4000 {target} 0.000 -1 -1 {elb} {answered} 34 272 "
        f'"GET http://gw:80/ HTTP/1.1" "curl/8.0" - - arn:tg "Root=1" "-" "-" 0 {when} '
        f'"forward" "-" "-" "{target}" "-" "-" "-"'
    )
    (obs,) = parse(line, Context(cluster="prod", file="-"))
    assert isinstance(obs, Observation)
    return obs


def _state(observations: list[Observation]) -> FoldState:
    facts: list[Fact] = []
    for i, obs in enumerate(observations, start=1):
        facts.extend(derive(i, obs))
    return fold(FoldState(), facts)


def test_lines_are_tied_by_address_and_nodeport_or_unknown() -> None:
    state = _state(
        [
            _line(10, "10.0.1.12:31805"),  # access log imported before the objects: order is free
            _node("node-a", "10.0.1.12"),
            _node("node-b", "10.0.1.13"),
            _service(),
            _line(11, "10.0.1.12:31805"),
            _line(12, "10.0.1.13:31805", elb="200", answered="200"),  # a success: no impact
            _line(13, "10.0.1.13:31805", elb="502", answered="502"),  # the app's own 502
            _line(14, "10.9.9.9:31805"),  # no Node has this address
            _line(15, "10.0.1.12:30000"),  # no Service has this NodePort
        ]
    )
    impact = access_impact(state)
    t = int(T0.timestamp() * 1e6)
    assert impact.lanes == {(SVC, "node-a"): [t + 10_000_000, t + 11_000_000]}
    assert impact.covered == {SVC}
    assert impact.unknown == {SVC: 1, None: 1}


def test_window_counts_only_its_nodes_failures_in_its_bounds() -> None:
    state = _state(
        [
            _node("node-a", "10.0.1.12"),
            _node("node-b", "10.0.1.13"),
            _service(),
            _line(10, "10.0.1.12:31805"),
            _line(30, "10.0.1.12:31805"),
            _line(12, "10.0.1.13:31805", elb="200", answered="200"),
        ]
    )
    t = int(T0.timestamp() * 1e6)

    def window(node: str) -> Window:
        start, end = t + 5_000_000, t + 20_000_000
        return Window(
            SVC, node, "closed-before-deregistered", start, end, start, start, end, end, "measured"
        )

    counted = failed_requests(state, [window("node-a"), window("node-b")])
    assert [w.failed_requests for w in counted] == [1, 0]
    other = ServiceRef("prod", "default", "web")
    bare = Window(
        other, "node-a", "closed-before-deregistered", t, t + 1, t, t, t + 1, t + 1, "measured"
    )
    assert failed_requests(state, [bare])[0].failed_requests is None  # no impact data
