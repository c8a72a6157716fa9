"""EndpointSlices as real clusters serve them, through the real writer into a real store (SQLite
and PostgreSQL), replayed: the shapes the simulator never writes.

Field semantics from the API reference (discovery.k8s.io/v1 and v1beta1 EndpointSlice,
https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/) and
the EndpointSlice concept page (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/):
`conditions.ready` nil "should be interpreted as ready"; `addressType` IPv4, IPv6 or FQDN (a
dual-stack Service has one slice per family); a Service may have several slices (100 endpoints
each by default) and its label `kubernetes.io/service-name` is the only link to it; v1beta1's
`topology["kubernetes.io/hostname"]` is "the hostname of the node where the endpoint is located"
(before 1.20 there was no `nodeName`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import Window
from tests.replay.builders import (
    NS,
    SVC,
    _k8s,
    eps,
    node,
    nodeport,
    pod,
    service,
    target,
    windows_of,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "k8s"


def stored_windows(engine: Engine, observations: list[Observation]) -> list[Window]:
    """The windows replay finds once the observations went through the writer into the store."""
    ordered = sorted(observations, key=lambda o: o.observed_at)
    EventWriter(engine, derive=write_facts).write_all(ordered)
    return api.windows(engine)


def _bounds(windows: list[Window]) -> list[tuple[Any, ...]]:
    return [
        (w.node, w.cls, w.certain, w.start_earliest_us, w.start_latest_us, w.end_earliest_us,
         w.end_latest_us)
        for w in windows
    ]  # fmt: skip


def _slice(t: float, payload: dict[str, Any], op: str = "MODIFIED") -> Observation:
    return _k8s(t, "EndpointSlice", op, payload)


def _reshaped(obs: Observation, change: Any) -> Observation:
    payload = copy.deepcopy(dict(obs.payload))
    change(payload)
    return _k8s(obs.observed_at.timestamp() - _T0, obs.kind, obs.op, payload)


_T0 = service(0).observed_at.timestamp()


def _rollout_on_n1(slices: Any, probes: bool = True) -> list[Observation]:
    """p1 on n1 ready from 1 s, terminating at 20 s (kube-proxy 1.25: no PTE), gone at 25 s;
    the target healthy from 1 s, draining at 30 s; NodePort probes (when `probes`) connected
    until 21 s, timing out from 22 s. `slices(t, state)` gives the EndpointSlice observations
    of p1 in `state` at `t`."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(1, "p1", "n1", "ready"),
        *slices(1, "ready"),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        *slices(20, "stopped"),
        pod(25, "p1", "n1", "gone"),
        target(30, 29, "n1", "draining"),
    ]
    if probes:
        obs += [nodeport(2, None, "n1", "connected"), nodeport(22, 21, "n1", "timeout")]
    return obs


def _v1(t: float, state: str) -> list[Observation]:
    return [eps(t, [("p1", "n1", state)])]


def _v1beta1(t: float, state: str) -> list[Observation]:
    """The same slice as discovery.k8s.io/v1beta1 wrote it before 1.20: the node only in
    `topology["kubernetes.io/hostname"]`."""

    def beta(payload: dict[str, Any]) -> None:
        payload["apiVersion"] = "discovery.k8s.io/v1beta1"
        payload["addressType"] = "IPv4"
        for ep in payload["endpoints"]:
            ep["topology"] = {"kubernetes.io/hostname": ep.pop("nodeName")}

    return [_reshaped(o, beta) for o in _v1(t, state)]


def test_a_v1beta1_slice_names_its_node_in_topology(engine: Engine) -> None:
    """Without probes (F inferred from the endpoints), the v1beta1 slice gives the v1 slice's
    window: kube-proxy closed at 20-25 s, the LB drained at 29-30 s. Before: the endpoint had
    no `nodeName`, so n1 had no endpoints lane and read as a certain
    `pod-gone-before-deregistered` window from 1 s (28 s too early, the wrong class)."""
    v1 = windows_of(_rollout_on_n1(_v1, probes=False))
    assert [(w.node, w.cls) for w in v1] == [("n1", "closed-before-deregistered")]
    beta = stored_windows(engine, _rollout_on_n1(_v1beta1, probes=False))
    assert _bounds(beta) == _bounds(v1)


def _with_fqdn(t: float, state: str) -> list[Observation]:
    """p1's IPv4 slice and, beside it, an FQDN slice of the Service (an endpoint on n1 with
    `nodeName`, ready throughout)."""
    fqdn = _slice(
        t,
        {
            "metadata": {
                "name": SVC + "-fqdn",
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": SVC},
            },
            "addressType": "FQDN",
            "endpoints": [
                {"addresses": ["gw.example.com"], "conditions": {"ready": True}, "nodeName": "n1"}
            ],
        },
    )
    return [*_v1(t, state), fqdn]


@pytest.mark.parametrize("probes", [True, False])
def test_an_fqdn_slice_is_nothing_kube_proxy_forwards_to(engine: Engine, probes: bool) -> None:
    """kube-proxy programs IPv4 and IPv6 slices only: the FQDN slice must not keep n1 "ready"
    once p1 terminated, so the window is the one without it. Before: the same bounds read as
    `registered-before-forwarding` (probes) or `pod-gone-before-deregistered` (inferred)."""
    alone = windows_of(_rollout_on_n1(_v1, probes))
    assert [(w.node, w.cls) for w in alone] == [("n1", "closed-before-deregistered")]
    assert _bounds(stored_windows(engine, _rollout_on_n1(_with_fqdn, probes))) == _bounds(alone)


def _dual(t: float, state: str, v6_delay: float = 0.3) -> list[Observation]:
    """A dual-stack Service: the IPv4 slice, and the IPv6 slice of the same pods written
    `v6_delay` later (the controller writes each family's slice on its own)."""

    def v6(payload: dict[str, Any]) -> None:
        payload["metadata"]["name"] = SVC + "-v6"
        payload["addressType"] = "IPv6"
        for ep in payload["endpoints"]:
            ep["addresses"] = ["fd00::1"]

    (v4,) = _v1(t, state)
    (late,) = _v1(t + v6_delay, state)
    return [v4, _reshaped(late, v6)]


def test_dual_stack_slices_give_the_single_stack_windows(engine: Engine) -> None:
    """One family's slice changing (the IPv4 slice dropping p1 while the IPv6 one still lists
    it ready, 0.3 s) neither drops the node's endpoints nor opens a window of its own: the
    same one window as one IPv4 slice, on the same node and class."""
    for probes in (True, False):
        single = windows_of(_rollout_on_n1(_v1, probes))
        assert [(w.node, w.cls) for w in single] == [("n1", "closed-before-deregistered")]
        assert _bounds(windows_of(_rollout_on_n1(_dual, probes))) == _bounds(single)
    assert _bounds(stored_windows(engine, _rollout_on_n1(_dual))) == _bounds(
        windows_of(_rollout_on_n1(_v1))
    )


def test_a_second_slice_changing_keeps_the_first_ones_endpoints(engine: Engine) -> None:
    """Several slices per Service: n2's slice changing (its pod added, then changed) must not
    drop n1's endpoints, and an endpoint the controller moves from one slice to another (the
    new slice written before the old one is emptied: creates come first) is no loss. No window:
    nothing changed for n1's forwarding."""
    obs = [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        pod(1, "p1", "n1", "ready"),
        pod(1, "p2", "n2", "ready"),
        eps(1, [("p1", "n1", "ready")], name=SVC + "-a"),
        eps(2, [("p2", "n2", "ready")], name=SVC + "-b"),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
        nodeport(2, None, "n1", "connected"),
        nodeport(2, None, "n2", "connected"),
        eps(10, [("p2", "n2", "ready"), ("p1", "n1", "ready")], name=SVC + "-b"),
        eps(10.2, [], name=SVC + "-a"),
        _k8s(11, "EndpointSlice", "DELETED", dict(eps(11, [], name=SVC + "-a").payload)),
        nodeport(60, 2, "n1", "connected"),
        nodeport(60, 2, "n2", "connected"),
        target(60, 1, "n1", "healthy", "OBSERVED"),
        target(60, 1, "n2", "healthy", "OBSERVED"),
    ]
    assert stored_windows(engine, obs) == []


def test_the_docs_example_slice_and_null_endpoints(engine: Engine) -> None:
    """The API docs' example (conditions `ready` only: serving and terminating absent, as
    before 1.20/1.22) counts its endpoint ready on node-1; `endpoints: null` (a Service with
    no endpoints, as the API serves it) counts none and drops what the slice held."""
    doc = yaml.safe_load((FIXTURES / "k8s-docs-endpointslice-example-abc.yaml").read_text())
    doc["metadata"]["namespace"] = NS  # the example names none: its Service's namespace
    emptied = dict(doc, endpoints=None)
    EventWriter(engine, derive=write_facts).write_all([_slice(1, doc, "ADDED"), _slice(2, emptied)])
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, node, num1, num2, num3, text1 FROM facts WHERE fact = 'slice' "
                "ORDER BY event_id, seq"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("example", None, None, None, None, "example-abc"),
        ("example", "node-1", 1, 0, 0, "example-abc"),
        ("example", None, None, None, None, "example-abc"),
    ]


def _managed_by(controller: str) -> Any:
    def slices(t: float, state: str) -> list[Observation]:
        def label(payload: dict[str, Any]) -> None:
            payload["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] = controller

        return [_reshaped(o, label) for o in _v1(t, state)]

    return slices


def test_a_slice_of_another_controller_counts_as_kube_proxy_reads_it(engine: Engine) -> None:
    """kube-proxy reads every slice labelled with the Service's name, whoever manages it (the
    mirroring controller's for a selectorless Service's Endpoints, another mesh's): the same
    window as the EndpointSlice controller's slice gives."""
    own = windows_of(_rollout_on_n1(_managed_by("endpointslice-controller.k8s.io"), False))
    assert [(w.node, w.cls) for w in own] == [("n1", "closed-before-deregistered")]
    mirrored = _rollout_on_n1(_managed_by("endpointslicemirroring-controller.k8s.io"), False)
    assert _bounds(stored_windows(engine, mirrored)) == _bounds(own)


def test_a_slice_without_the_service_label_is_no_ones(engine: Engine) -> None:
    """The k9s dump (tests/fixtures/k8s/k9s-endpointslice-v1.json) has no
    `kubernetes.io/service-name` label: no Service's slice (kube-proxy maps slices to Services
    by that label alone), so it gives no fact."""
    dump = json.loads((FIXTURES / "k9s-endpointslice-v1.json").read_text())
    EventWriter(engine, derive=write_facts).write_all([_slice(1, dump, "ADDED")])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM facts WHERE fact = 'slice'")).scalar() == 0


def test_ready_while_terminating_is_ready_as_kube_proxy_reads_it(engine: Engine) -> None:
    """For a Service with publishNotReadyAddresses the controller keeps `ready: true` on a
    terminating endpoint (the API: ready "should never be true for terminating endpoints,
    except when the normal readiness behavior is being explicitly overridden, for example when
    the associated Service has set the publishNotReadyAddresses flag"), and kube-proxy forwards
    to it as to any ready endpoint until it leaves the slice. p1 terminating at 20 s so
    flagged, gone at 25 s, out of the slice at 26 s: the window of an endpoint ready until 26 s.
    Before: read serving-terminating from 20 s, which kube-proxy 1.25 (no PTE) would not
    forward to, so the same window was classed `closed-before-deregistered` (kube-proxy
    closing first) where kube-proxy kept forwarding and the pod went first."""

    def published(t: float, state: str) -> list[Observation]:
        def flag(payload: dict[str, Any]) -> None:
            for ep in payload["endpoints"]:
                ep["conditions"] = {"ready": True, "serving": True, "terminating": True}

        (obs,) = _v1(t, "ready")
        return [_reshaped(obs, flag)] if state == "stopped" else [obs]

    def still_ready(t: float, state: str) -> list[Observation]:
        return _v1(t, "ready")

    def scenario(slices: Any) -> list[Observation]:
        return [*_rollout_on_n1(slices, probes=False), eps(26, [])]

    kept = windows_of(scenario(still_ready))
    assert [(w.node, w.cls) for w in kept] == [("n1", "pod-gone-before-deregistered")]
    assert _bounds(stored_windows(engine, scenario(published))) == _bounds(kept)
