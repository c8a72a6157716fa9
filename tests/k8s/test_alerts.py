"""deploy/components/alerts: every rule parses as PromQL (promql-parser, GreptimeDB's Rust parser:
no promtool or Prometheus runs here), names only metrics our processes export (read from the
real registries the recorder, its Kubernetes source, the kube-proxy prober, the LB pollers and
the push API build, not from a list written here), uses only labels those metrics carry plus the
target labels Prometheus adds, and renders with the recorder's base. Under CI=true the tools
must be there (no skip)."""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client import CollectorRegistry

from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.k8s.metrics import WatchMetrics
from gapwatch.recorder.sources.kubeproxy.source import build as build_prober
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.pushhealth import PushMetrics
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.replay.facts import write_facts
from tests.k8s.kustomize import kustomize

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "components" / "alerts" / "prometheusrule.yaml"
#: labels Prometheus adds to every scraped series (Kubernetes pod service discovery, as the
#: prometheus.io annotations of deploy/base's pods and prometheus-operator's relabelings set)
TARGET_LABELS = {"namespace", "pod", "job", "instance", "container"}
#: sample suffixes each metric type exposes (prometheus_client's family name has none)
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "unknown": ("",),
}


def exported() -> dict[str, set[str]]:
    """Every series name the recorder's processes can expose -> the labels it carries."""
    registry = CollectorRegistry()
    RecorderMetrics(registry)
    WatchMetrics(registry).seen("Pod")  # its age gauge has a series only once a kind is seen
    PollerMetrics(registry, "aws", lambda: datetime.now(UTC))
    PushMetrics(registry)
    context = SourceContext(
        cluster="c1",
        engine=None,  # type: ignore[arg-type]  # building the prober does not touch the store
        clock=lambda: datetime.now(UTC),
        rng=random.Random(1),
        registry=registry,
        view=ClusterView(),
        derive=write_facts,
    )
    build_prober(context, {})
    declared = {
        name: set(getattr(collector, "_labelnames", ()))
        for name, collector in registry._names_to_collectors.items()
    }
    names: dict[str, set[str]] = {}
    for family in registry.collect():
        if not family.name.startswith("gapwatch_"):
            continue
        labels = declared.get(family.name, set()) | declared.get(family.name + "_total", set())
        labels |= {key for sample in family.samples for key in sample.labels}
        for suffix in SUFFIXES[family.type]:
            names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"]]


def selectors(node: Any) -> Iterator[Any]:
    """Every vector selector in a parsed expression."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node
    elif isinstance(node, promql_parser.MatrixSelector):
        yield from selectors(node.vector_selector)
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from selectors(node.lhs)
        yield from selectors(node.rhs)
    elif isinstance(node, promql_parser.AggregateExpr):
        yield from selectors(node.expr)
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            yield from selectors(arg)
    elif isinstance(
        node, (promql_parser.ParenExpr, promql_parser.UnaryExpr, promql_parser.SubqueryExpr)
    ):
        yield from selectors(node.expr)


def grouping(node: Any) -> Iterator[str]:
    """Every label an aggregation groups by."""
    if isinstance(node, promql_parser.AggregateExpr):
        if node.modifier is not None:
            yield from node.modifier.labels
        yield from grouping(node.expr)
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from grouping(node.lhs)
        yield from grouping(node.rhs)
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            yield from grouping(arg)
    elif isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr)):
        yield from grouping(node.expr)


def problems(expr: str, known: dict[str, set[str]]) -> list[str]:
    """What is wrong with one rule's expression against what we export ([] if nothing)."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return [f"not PromQL: {exc}"]
    found = []
    carried = set(TARGET_LABELS)
    for selector in selectors(tree):
        if selector.name not in known:
            found.append(f"unknown metric {selector.name}")
            continue
        carried |= known[selector.name]
        for matcher in selector.matchers.matchers:
            if matcher.name not in known[selector.name] | TARGET_LABELS:
                found.append(f"{selector.name} has no label {matcher.name}")
    found += [
        f"groups by {label}, which no series has"
        for label in grouping(tree)
        if label not in carried
    ]
    return found


def test_every_rule_is_promql_over_metrics_we_export() -> None:
    known = exported()
    assert "gapwatch_probe_looks_total" in known and "gapwatch_lb_poll_errors_total" in known
    found = {rule["alert"]: problems(rule["expr"], known) for rule in rules()}
    assert {alert: p for alert, p in found.items() if p} == {}
    assert len(found) == len(rules()), "alert names repeat"


def test_the_check_catches_a_renamed_metric_a_wrong_label_and_bad_syntax() -> None:
    known = exported()
    assert problems("gapwatch_recorder_spool_ful == 1", known) == [
        "unknown metric gapwatch_recorder_spool_ful"
    ]
    assert problems('rate(gapwatch_probe_looks_total{result="timeout"}[5m])', known) == [
        "gapwatch_probe_looks_total has no label result"
    ]
    assert problems("max by (node) (gapwatch_recorder_spool_full)", known) == [
        "groups by node, which no series has"
    ]
    assert problems("sum(rate(gapwatch_recorder_write_errors_total[5m])", known)[0].startswith(
        "not PromQL"
    )


def test_rules_say_how_bad_what_happened_and_what_to_do() -> None:
    for rule in rules():
        assert re.fullmatch(r"Gapwatch[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert "for" not in rule or re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and len(annotations["description"]) > 80, rule["alert"]


def test_the_component_renders_with_the_recorder(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        kustomize(tmp_path)  # fails under CI=true, skips otherwise
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # relative: kustomize refuses absolute paths to other kustomizations
                "resources": [os.path.relpath(DEPLOY / "base", overlay)],
                "components": [os.path.relpath(DEPLOY / "components" / "alerts", overlay)],
            }
        )
    )
    docs = kustomize(overlay)
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert rule["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert rule["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gapwatch"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())["spec"]
