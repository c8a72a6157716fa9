"""Facts from real sample objects, and the writer filling them on every ingest path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay.facts import FACT_COLUMNS, derive, write_facts
from gapwatch.replay.load import rederive_facts
from tests.replay.builders import at, facts_of, pod
from tests.replay.scenarios import seed_races

FIXTURES = Path(__file__).parent.parent / "fixtures" / "replay"


def _load(name: str) -> Any:
    """A real sample: an object or a list of them."""
    return json.loads((FIXTURES / name).read_text())


def _obs(kind: str, payload: dict[str, Any], node: str | None = None) -> Observation:
    return Observation(
        observed_at=at(1), cluster="c", source="k8s-watch", kind=kind, op="MODIFIED",
        payload=payload, node=node,
    )  # fmt: skip


def test_endpointslice_counts_per_node() -> None:
    raw = _load("k9s-endpointslice-v1.json")
    assert derive(1, _obs("EndpointSlice", raw)) == []  # no service-name label: not a Service's
    labelled = copy.deepcopy(raw)
    labelled["metadata"]["labels"] = {"kubernetes.io/service-name": "fred-svc"}
    head, n1 = derive(7, _obs("EndpointSlice", labelled))
    assert (head.node, head.text1, head.name, head.namespace) == (None, "fred", "fred-svc", "blee")
    # two ready endpoints on n-1, both backed by the pod "zorg"
    assert (n1.node, n1.num1, n1.num2, n1.num3, n1.text2) == ("n-1", 2, 0, 0, "zorg")
    assert (n1.event_id, n1.seq) == (7, 1)


def test_services_with_local_traffic_policy() -> None:
    for svc in _load("kubelb-kind-services-lb-local-healthchecknodeport.json"):
        (fact,) = derive(1, _obs("Service", svc))
        assert fact.state == "LoadBalancer" and fact.text1 == "Local"
        assert fact.num1 == svc["spec"]["healthCheckNodePort"]
        assert fact.text2 == ",".join(str(p["nodePort"]) for p in svc["spec"]["ports"])


def test_node_from_a_kops_cluster() -> None:
    node = _load("aws-kops-nodelist-2nodes.json")["items"][0]
    (fact,) = derive(1, _obs("Node", node, node=node["metadata"]["name"]))
    assert fact.state == "Ready" and fact.num1 == 0
    assert fact.text1 == "v1.6.6" and (fact.text2 or "").startswith("aws:///eu-west-1c/i-")


def test_legacy_health_body_without_proxy_healthy() -> None:
    body = _load("hcnp-body-aks-nginx-legacy-format.json")
    obs = Observation(
        observed_at=at(2), cluster="c", source="kube-proxy-probe", kind="ProxyHealth",
        op="OBSERVED", payload={"status": 200, "body": body, "error": None, "port": 31805},
        namespace="default", name="nginx", node="n1", previous_observed_at=at(1),
    )  # fmt: skip
    (fact,) = derive(3, obs)
    assert (fact.state, fact.num1, fact.num2) == ("200", 1, None)
    assert (fact.at_us, fact.prev_us) == (to_micros(at(2)), to_micros(at(1)))


def test_pod_deletion_grace_and_prestop() -> None:
    (fact,) = derive(1, pod(5, "p1", "n1", "terminating", deleted_at=5, grace=45, prestop=12.5))
    assert fact.state == "terminating" and fact.num2 == 45 and fact.num3 == 12500
    assert fact.num1 == to_micros(at(5)) and fact.text1 == "ReplicaSet/istio-ingressgateway-aaa"


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    cols = ", ".join(FACT_COLUMNS)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM facts ORDER BY 1, 2"))]


def test_writer_fills_facts_by_default_and_rederive_matches(engine: Engine) -> None:
    observations = seed_races()
    EventWriter(engine, derive=write_facts).write(observations)
    EventWriter(engine, derive=write_facts).write(observations)  # duplicates add no facts
    stored = _stored(engine)
    assert stored == [tuple(f) for f in facts_of(observations)]
    assert rederive_facts(engine) == len(stored)
    assert _stored(engine) == stored


def test_no_derive_writes_no_facts(engine: Engine) -> None:
    EventWriter(engine, derive=no_derive).write(seed_races())
    assert _stored(engine) == []


def _stopped_pod() -> Observation:
    """A Pod as the API returns it after its container stopped (ContainerStateTerminated:
    exitCode, reason, startedAt, finishedAt), and a crash reported as lastState."""
    return pod(9, "p1", "n1", "gone", deleted_at=5, finished=7.6)


def test_pod_finished_at_from_state_or_last_state() -> None:
    (gone,) = derive(1, _stopped_pod())
    assert gone.num4 == to_micros(at(7))  # the kubelet's whole second
    (crashed,) = derive(2, pod(9, "p1", "n1", "pending", finished=8.2))
    assert crashed.state == "pending" and crashed.num4 == to_micros(at(8))
    # the newest of the two when both are reported (a restarted container stopped again)
    both = copy.deepcopy(_stopped_pod())
    status = both.payload["status"]["containerStatuses"][0]
    status["lastState"] = {"terminated": {"finishedAt": "2026-11-25T08:00:00Z"}}
    (fact,) = derive(3, both)
    assert fact.num4 == to_micros(at(7))
    # without a finishedAt (running, or a status the kubelet never wrote): none
    (running,) = derive(4, pod(9, "p1", "n1", "ready"))
    assert running.num4 is None
    (bare,) = derive(5, pod(9, "p1", "n1", "gone"))
    assert bare.state == "gone" and bare.num4 is None


def test_real_endpointslice_names_its_ready_pods() -> None:
    labelled = copy.deepcopy(_load("k9s-endpointslice-v1.json"))
    labelled["metadata"]["labels"] = {"kubernetes.io/service-name": "fred-svc"}
    _head, n1 = derive(7, _obs("EndpointSlice", labelled))
    assert n1.text3 == "zorg"  # both endpoints ready (conditions unset mean ready)


def test_finished_at_is_stored_and_folded(engine: Engine) -> None:
    from gapwatch.replay.load import load_state

    observations = [*seed_races(), _stopped_pod()]
    EventWriter(engine, derive=write_facts).write(observations)
    fact, num4 = FACT_COLUMNS.index("fact"), FACT_COLUMNS.index("num4")
    stored = [r for r in _stored(engine) if r[fact] == "pod" and r[num4] is not None]
    assert [r[num4] for r in stored] == [to_micros(at(7))]
    state = load_state(engine)
    lane = next(v for k, v in state.pods.items() if k[2] == "p1")
    assert lane[-1].finished_us == to_micros(at(7))
    assert any(times for times in state.slice_ready.values())
