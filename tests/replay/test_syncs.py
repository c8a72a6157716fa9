"""kube-proxy's sync metrics as evidence of when a node programmed a change (replay.syncs), and
audit requests without their objects (APIRequest) as what they prove alone.

Real kube-proxy /metrics pages (tests/fixtures/kubeproxy, SOURCES.md there) become `sync` facts
with the page's own figures; literal looks bound a change's programming (not yet / done / stuck);
a Prometheus answer of a node that synced late narrows the inferred F lane."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gapwatch.recorder.importers.audit import parse as parse_audit
from gapwatch.recorder.importers.base import Context
from gapwatch.recorder.importers.prometheus import parse as parse_prometheus
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.metrics import parse_metrics
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, SyncLook, fold
from gapwatch.replay.signals import Step, shifted
from gapwatch.replay.syncs import SYNC_SPAN_US, programmed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeproxy"
S = 1_000_000
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _figure(text: str, name: str) -> float:
    """A sample's value as the page prints it (read here, not by the parser under test)."""
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


@pytest.mark.parametrize(
    "page",
    [
        "datadog-kubeproxy-v1.21.1-iptables-metrics-subset.prom",
        "elastic-beats-kubeproxy-v1.29.0-metrics-subset.prom",
    ],
)
def test_real_metrics_pages_become_sync_facts(page: str) -> None:
    text = (FIXTURES / page).read_text()
    payload = {"metrics": parse_metrics(text), "status": 200, "error": None}
    obs = Observation(T0, "prod", "kube-proxy-probe", "ProxyMetrics", "OBSERVED", payload,
                      node="node-a")  # fmt: skip
    (fact,) = derive(7, obs)
    last = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
    queued = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
    rules = "kubeproxy_sync_proxy_rules_duration_seconds"
    assert (fact.fact, fact.node, fact.state) == ("sync", "node-a", "synced")
    assert fact.num1 == round(_figure(text, last) * S)
    assert fact.num2 == round(_figure(text, queued) * S)
    # every rules sync, not the programming-latency histogram beside it (it counts fewer)
    assert fact.num3 == int(_figure(text, rules + "_count"))
    assert fact.num3 != int(_figure(text, "kubeproxy_network_programming_duration_seconds_count"))
    assert fact.num4 == round(_figure(text, rules + "_sum") * S)
    # the subsets leave out the process_* lines: which process answered is unknown
    assert fact.text3 is None
    state = fold(FoldState(), [fact])
    (look,) = state.syncs[("prod", "node-a")]
    assert look == SyncLook(
        fact.at_us, fact.num1, fact.num2, 7, True, fact.num3, fact.num4, None, fact.at_us
    )


def test_the_process_start_names_the_process_and_a_bad_count_is_none() -> None:
    metrics = {
        "kubeproxy_sync_proxy_rules_last_timestamp_seconds": 1_700_000_100.5,
        "kubeproxy_sync_proxy_rules_duration_seconds_count": -3.0,
        "process_start_time_seconds": 1_700_000_000.25,
    }
    payload = {"metrics": metrics, "status": 200, "error": None}
    obs = Observation(T0, "prod", "kube-proxy-probe", "ProxyMetrics", "OBSERVED", payload,
                      node="node-a")  # fmt: skip
    (look,) = fold(FoldState(), derive(3, obs)).syncs[("prod", "node-a")]
    assert (look.syncs, look.busy_us, look.process_us) == (None, None, 1_700_000_000_250_000)


def test_a_failed_scrape_or_a_page_without_syncs_gives_no_fact() -> None:
    failed: dict[str, Any] = {"metrics": {}, "status": None, "error": "timeout"}
    obs = Observation(T0, "prod", "kube-proxy-probe", "ProxyMetrics", "OBSERVED", failed,
                      node="node-a")  # fmt: skip
    assert derive(1, obs) == []


CHANGE = Step(100 * S, 100 * S, False, 5)  # the node's endpoints went away at 100 s
REACH = seconds_us(DEFAULTS.watch_skew_s)
LO, HI = 0, 60 * S


def look(at_s: float, synced_s: float, queued_s: float | None) -> SyncLook:
    queued = None if queued_s is None else int(queued_s * S)
    return SyncLook(int(at_s * S), int(synced_s * S), queued, 1)


def test_without_looks_the_assumed_lag_holds() -> None:
    assert programmed([CHANGE], [], LO, HI, REACH) == shifted([CHANGE], LO, HI)


def test_looks_bound_the_programming_from_both_sides() -> None:
    looks = [
        look(105, 90, 90),  # no sync since before the change: not programmed at 105
        look(120, 112, 101),  # a sync well after it, nothing queued since: programmed by 112
        look(135, 130, 131),
    ]
    (step,) = programmed([CHANGE], looks, LO, HI, REACH)
    assert (step.earliest, step.latest, step.value) == (105 * S, 112 * S, False)


def test_a_sync_too_close_to_the_change_or_with_a_change_queued_after_it_proves_nothing() -> None:
    close = 100 * S + REACH + SYNC_SPAN_US - 1  # may have begun before the change arrived
    looks = [
        SyncLook(104 * S, close, 100 * S, 1),
        look(110, 108, 109),  # a change queued after the last sync: it may be this one, pending
        look(125, 121, 109),
    ]
    (step,) = programmed([CHANGE], looks, LO, HI, REACH)
    assert (step.earliest, step.latest) == (100 * S, 121 * S)


def test_a_stuck_kube_proxy_is_later_than_the_assumption() -> None:
    looks = [look(150, 90, 101), look(175, 90, 101), look(190, 181, 101)]
    (step,) = programmed([CHANGE], looks, LO, 60 * S, REACH)
    assert (step.earliest, step.latest) == (175 * S, 181 * S)  # past 100 s + 60 s


def test_prometheus_answer_narrows_the_inferred_forwarding_lane() -> None:
    """A node's endpoints go away; without probes F is inferred. The Prometheus answer (as the
    importer reads it) shows kube-proxy not synced 10 s later and synced at +14 s: F turns false
    inside [+10 s, +14 s] instead of [+0, +60 s]."""
    from gapwatch.replay.lanes import serves_signal
    from gapwatch.replay.model import ServiceRef

    metrics = late_sync_metrics()
    svc = ServiceRef("prod", "istio-system", "gw")
    observations = [*_cluster(), _slice(-100, ready=True), _slice(0, ready=False)]
    without = _state(observations)
    with_metrics = _state(observations + metrics)
    base = T0.timestamp() * S
    plain, measured, *_ = serves_signal(without, svc, "node-a", DEFAULTS, 60 * S)
    narrowed, measured_now, *_ = serves_signal(with_metrics, svc, "node-a", DEFAULTS, 60 * S)
    assert not measured and measured_now
    # F possibly true until the end of the uncertainty, surely true until its start
    assert [(iv.end - base) / S for iv in plain.possible] == [60]
    assert [(iv.end - base) / S for iv in narrowed.possible] == [14]
    assert [(iv.end - base) / S for iv in narrowed.definite] == [10]
    # and a programming lag per node for advice: the middle of [+10 s, +14 s]
    from gapwatch.replay.lags import lag_samples

    assert lag_samples(without) == []
    lags = lag_samples(with_metrics)
    assert [(x.node, x.lag, x.seconds, x.up) for x in lags] == [
        ("node-a", "kube-proxy-programming", 12.0, False)
    ]


def late_sync_metrics() -> list[Observation]:
    """A Prometheus answer (as the importer reads it) for node-a of `_cluster`: kube-proxy not
    synced 10 s after T0, synced at +14 s."""
    t = T0.timestamp()
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": name, "instance": "10.0.1.12:10249", "node": "node-a"},
                    "values": [[t + 10, str(t - 50)], [t + 25, str(t + v)]],
                }
                for name, v in (
                    ("kubeproxy_sync_proxy_rules_last_timestamp_seconds", 14.0),
                    ("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", 0.2),
                )
            ],
        },
    }
    metrics = parse_prometheus(answer, Context(cluster="prod", file="-"))
    assert isinstance(metrics, list)
    return metrics


def _obs(kind: str, payload: dict[str, Any], seconds: float, **ident: Any) -> Observation:
    at = T0 + timedelta(seconds=seconds)
    return Observation(at, "prod", "k8s-audit", kind, "MODIFIED", payload, source_time=at, **ident)


def _cluster() -> list[Observation]:
    service = {
        "metadata": {"name": "gw", "namespace": "istio-system"},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32000,
            "ports": [{"port": 80, "nodePort": 31805}],
        },
    }
    pod = {
        "metadata": {"name": "gw-1", "namespace": "istio-system"},
        "spec": {"nodeName": "node-a"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    return [
        _obs("Service", service, -200, namespace="istio-system", name="gw"),
        _obs("Pod", pod, -150, namespace="istio-system", name="gw-1"),
    ]


def _slice(seconds: float, *, ready: bool) -> Observation:
    payload = {
        "metadata": {
            "name": "gw-abcde",
            "namespace": "istio-system",
            "labels": {"kubernetes.io/service-name": "gw"},
        },
        "endpoints": [
            {
                "addresses": ["10.1.0.5"],
                "nodeName": "node-a",
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
                "targetRef": {"kind": "Pod", "name": "gw-1"},
            }
        ],
    }
    return _obs("EndpointSlice", payload, seconds, namespace="istio-system", name="gw-abcde")


def _state(observations: list[Observation]) -> FoldState:
    facts: list[Fact] = []
    for i, obs in enumerate(observations, start=1):
        facts.extend(derive(i, obs))
    return fold(FoldState(), facts)


def _audit(verb: str, resource: str, name: str, user: str, seconds: float) -> dict[str, Any]:
    """An audit.k8s.io/v1 event at level Metadata, as the log backend writes it."""
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ns = None if resource == "nodes" else "istio-system"
    ref: dict[str, Any] = {"resource": resource, "name": name, "apiVersion": "v1"}
    if ns:
        ref["namespace"] = ns
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"id-{verb}-{name}-{seconds}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/{'namespaces/istio-system/' if ns else ''}{resource}/{name}",
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.5"],
        "userAgent": "kubectl/v1.30.0",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": when,
        "stageTimestamp": when,
    }


def test_metadata_level_requests_prove_pod_and_node_deletions() -> None:
    ctx = Context(cluster="prod", file="-")
    events = [
        _audit(
            "create", "pods", "gw-1", "system:serviceaccount:kube-system:replicaset-controller", 0
        ),
        _audit(
            "delete", "pods", "gw-1", "system:serviceaccount:kube-system:deployment-controller", 10
        ),
        _audit("delete", "pods", "gw-1", "system:node:node-a", 42.5),
        _audit(
            "delete", "nodes", "node-b", "system:serviceaccount:kube-system:node-controller", 50
        ),
        _audit("patch", "pods", "gw-1", "system:node:node-a", 5),  # what changed is unknown
    ]
    observations = []
    for event in events:
        parsed = parse_audit(event, ctx)
        assert isinstance(parsed, list)
        observations.extend(parsed)
    assert {o.kind for o in observations} == {"APIRequest"}
    state = _state(observations)
    base = int(T0.timestamp() * S)
    lane = state.pods[("prod", "istio-system", "gw-1")]
    assert [(p.state, p.at_us - base) for p in lane] == [
        ("pending", 0),
        ("terminating", 10 * S),
        ("gone", int(42.5 * S)),
    ]
    assert lane[1].deletion_us == base + 10 * S
    (node,) = state.nodes[("prod", "node-b")]
    assert (node.value, node.at_us) == ("Deleted", base + 50 * S)


def test_real_metadata_level_audit_lines_become_request_facts() -> None:
    """The falco minikube capture (tests/fixtures/importers, SOURCES.md there): its six writes
    without objects (Service and Deployment create/delete by minikube-user) are `apireq` facts
    naming verb, kind and user; none of them is a Pod or Node DELETE, so no lane changes."""
    from tests.importers.helpers import FIXTURES as IMPORTS
    from tests.importers.helpers import parse

    found, errors, _stats = parse("k8s-audit", IMPORTS / "falco-k8s-audit-minikube-2018.jsonl")
    assert not errors
    requests = [o for o in found if o.kind == "APIRequest"]
    facts = [f for i, o in enumerate(requests, start=1) for f in derive(i, o)]
    assert sorted((f.state, f.text1, f.name) for f in facts) == [
        ("create", "Deployment", "nginx-deployment"),
        ("create", "Service", "nginx"),
        ("create", "Service", "nginx"),
        ("create", "Service", "nginx"),
        ("delete", "Deployment", "nginx-deployment"),
        ("delete", "Service", "nginx"),
    ]
    assert {f.text2 for f in facts} == {"minikube-user"} and all(f.fact == "apireq" for f in facts)
    state = fold(FoldState(), facts)
    assert not state.pods and not state.nodes


def test_a_pod_change_counts_from_the_slice_change_seen_just_before_it() -> None:
    """Two watchers may see the Pod turning ready and its EndpointSlice out of order (within
    the watch skew): the slice change seen 0.3 s before the pod's counts as the arrival."""
    pod_ready = Step(100 * S, 100 * S, True, 3)
    looks = [look(101, 90, 90), look(115, 102, 99.8)]
    slice_us = S
    seen = [int(99.7 * S)]
    (step,) = programmed(
        [pod_ready], looks, LO, HI + slice_us, REACH, seen_in=seen, within_us=slice_us
    )
    assert (step.earliest, step.latest) == (101 * S, 102 * S)
    (unseen,) = programmed([pod_ready], looks, LO, HI + slice_us, REACH, within_us=slice_us)
    assert unseen.latest == 100 * S + HI + slice_us  # 102 s is too soon after 101 s + reach
