"""Pure parts: no-op filter, projection, stamping, backoff, config, scope."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gapwatch.recorder.backoff import BackoffSettings, delay
from gapwatch.recorder.config import RecorderConfig, load_config
from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import validate
from gapwatch.recorder.sources.k8s.config import K8sSettings, parse_settings
from gapwatch.recorder.sources.k8s.noop import LAST_APPLIED, fingerprint, project
from gapwatch.recorder.sources.k8s.resources import RESOURCES, to_observation
from gapwatch.recorder.sources.k8s.scope import LocalServiceScope
from gapwatch.recorder.sources.k8s.state import Known, apply_event, diff_listed
from gapwatch.recorder.spool import SpoolSettings
from tests.k8s import objects
from tests.k8s.objects import FIXTURES

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def watched_node() -> dict:  # type: ignore[type-arg]
    line = (FIXTURES / "aws-kops-node-watch-modified.jsonl").read_text().splitlines()[0]
    return json.loads(line)["object"]  # type: ignore[no-any-return]


def test_heartbeat_only_updates_are_no_ops_and_condition_changes_are_not() -> None:
    node = watched_node()
    beat = copy.deepcopy(node)
    beat["metadata"]["resourceVersion"] = "49696099"
    for condition in beat["status"]["conditions"]:
        condition["lastHeartbeatTime"] = "2017-08-24T09:09:00Z"
    assert fingerprint("Node", beat) == fingerprint("Node", node)
    not_ready = copy.deepcopy(beat)
    ready = next(c for c in not_ready["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "False"
    not_ready["metadata"]["resourceVersion"] = "49696123"
    assert fingerprint("Node", not_ready) != fingerprint("Node", node)
    # The same field in a Pod's conditions is not a heartbeat: no other kind is filtered.
    pod = objects.pod("ns", "p", "n", {})
    pod["status"]["conditions"][0]["lastHeartbeatTime"] = "x"
    later = copy.deepcopy(pod)
    later["status"]["conditions"][0]["lastHeartbeatTime"] = "y"
    assert fingerprint("Pod", pod) != fingerprint("Pod", later)

    known: Known = {}
    assert apply_event(known, "Node", "ADDED", node)
    assert not apply_event(known, "Node", "MODIFIED", beat)
    assert apply_event(known, "Node", "MODIFIED", not_ready)
    # Replayed from an older checkpoint (another replica stored newer rows): not recorded again.
    older = copy.deepcopy(beat)
    older["metadata"]["resourceVersion"] = "49696100"
    assert not apply_event(known, "Node", "MODIFIED", older)
    assert not apply_event(known, "Node", "DELETED", older)
    assert known[("", node["metadata"]["name"])].rv == "49696123"
    opaque: Known = {}
    apply_event(
        opaque, "Node", "ADDED", {**node, "metadata": {**node["metadata"], "resourceVersion": "b"}}
    )
    assert apply_event(
        opaque,
        "Node",
        "MODIFIED",
        {**not_ready, "metadata": {**node["metadata"], "resourceVersion": "a"}},
    )
    listed = {k: v for k, v in node.items() if k not in ("kind", "apiVersion")}
    assert diff_listed({}, "Node", listed) == "ADDED"
    assert diff_listed(known, "Node", not_ready) is None


def test_trim_projection_drops_only_managed_field_sets_and_last_applied() -> None:
    service = objects.services()[0]
    applied = {
        "manager": "kubectl",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-11-25T09:00:01Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:type": {}}},
    }
    service["metadata"]["managedFields"] = [applied, {"manager": "untimed"}]
    service["metadata"].setdefault("annotations", {})[LAST_APPLIED] = "{}"
    trimmed = project(service, "trim")
    # the write's time stays (replay bounds changes by it), the field sets go
    assert trimmed["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "time": "2026-11-25T09:00:01Z"}
    ]
    assert LAST_APPLIED not in trimmed["metadata"]["annotations"]
    assert trimmed["spec"] == service["spec"]
    assert "managedFields" in service["metadata"]  # the input is not mutated
    assert project(service, "full") is service
    assert fingerprint("Service", trimmed) == fingerprint("Service", service)


def test_observations_carry_node_and_the_objects_own_times() -> None:
    pod = objects.pod("shop", "web-1", "node-3", {"app": "web"})
    added = validate(to_observation(cluster="c", kind="Pod", op="ADDED", obj=pod, observed_at=NOW))
    assert (added.node, added.source, added.namespace, added.name) == (
        "node-3",
        "k8s-watch",
        "shop",
        "web-1",
    )
    assert added.source_time == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    pod["metadata"]["deletionTimestamp"] = "2026-11-25T10:05:00Z"
    deleting = to_observation(cluster="c", kind="Pod", op="MODIFIED", obj=pod, observed_at=NOW)
    assert deleting.source_time == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    event = json.loads((FIXTURES / "k9s-event-kubelet-pulled.json").read_text())
    obs = to_observation(cluster="c", kind="Event", op="ADDED", obj=event, observed_at=NOW)
    assert obs.source_time == datetime(2019, 8, 30, 20, 43, 5, tzinfo=UTC)  # lastTimestamp
    assert obs.resource_version == event["metadata"]["resourceVersion"]
    node = to_observation(
        cluster="c", kind="Node", op="MODIFIED", obj=watched_node(), observed_at=NOW
    )
    assert node.node == node.name and node.namespace is None and node.source_time is None


def test_backoff_doubles_from_0_8s_to_30s_with_jitter() -> None:
    rng = random.Random(1)
    settings = BackoffSettings()
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for failures, base in enumerate(bases, start=1):
        waits = [delay(failures, settings, rng) for _ in range(50)]
        assert all(base <= w <= 2 * base for w in waits)
        assert max(waits) - min(waits) > 0.1 * base


def _k8s(path: Path | None, env: dict[str, str]) -> tuple[RecorderConfig, K8sSettings]:
    config = load_config(path, env)
    return config, parse_settings(config.sources["k8s"], config.origin)


def test_config_file_then_environment(tmp_path: Path) -> None:
    """Today's files (the k8s source's keys at the top) keep working."""
    path = tmp_path / "record.yaml"
    path.write_text(
        "cluster: prod\nnamespaces: [istio-system]\nkinds: [Service, Pod]\n"
        "watch: {read_timeout_s: 30, server_timeout_s: [60, 120], backoff: {max_s: 5}}\n"
        "spool: {batch_size: 10, max_items: 100}\n"
    )
    config, k8s = _k8s(path, {"GAPWATCH_CLUSTER": "staging", "GAPWATCH_RECORD_SCOPE": "all"})
    assert list(config.sources) == ["k8s"]
    assert (config.cluster, k8s.scope, k8s.namespaces) == ("staging", "all", ("istio-system",))
    assert k8s.kinds == ("Service", "Pod")
    assert k8s.watch.server_timeout_s == (60, 120) and k8s.watch.backoff.max_s == 5
    assert (config.spool.batch_size, config.spool.max_items) == (10, 100)
    assert _k8s(None, {})[1].kinds == tuple(RESOURCES)
    for text, message in [
        ("bogus: 1\n", "unknown key 'bogus'"),
        ("kinds: [Pods]\n", "unknown kind 'Pods'"),
        ("watch: {read_timeout: 3}\n", "watch: unknown key 'read_timeout'"),
        ("scope: everything\n", "scope"),
        ("- a\n", "expected a mapping"),
        ("kinds: [Pod]\n", "scope local-services needs Service"),
        ("spool: {max_byte: 3}\n", "spool: unknown key 'max_byte'"),
        ("sources: {prober: {}}\n", "sources: unknown source 'prober'"),
        ("scope: all\nsources: {k8s: {scope: all}}\n", "'scope' is given at the top and under"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message) as info:
            _k8s(path, {})
        assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("retension: 90d\n", "retention"),
        ("namespace: [a]\n", "namespaces"),
        ("shutdown: 5\n", None),
    ],
)
def test_a_mistyped_top_level_key_names_both_key_lists(
    tmp_path: Path, text: str, meant: str | None
) -> None:
    """`retension: 90d` was `sources.k8s: unknown key 'retension' (known: api_server, ...)`: a
    section the user never wrote, and a list without the `retention` they meant."""
    path = tmp_path / "record.yaml"
    path.write_text("cluster: prod\n" + text)
    with pytest.raises(ConfigError) as info:
        _k8s(path, {})
    message = str(info.value)
    key = text.split(":", 1)[0]
    assert message.startswith(f"{path}: unknown key {key!r} at the top: "), message
    assert "sources.k8s: unknown key" not in message
    assert (
        "the recorder's keys are cluster, db, listen, maintain, partitions_ahead_days, retention"
        in message
    )
    assert "the k8s source's (at the top, or under sources.k8s) are api_server" in message
    assert (f"did you mean {meant!r}?" in message) == (meant is not None)


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "recorder.md").read_text("utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "record.yaml").write_text(example)
    config, k8s = _k8s(tmp_path / "record.yaml", {})
    assert config.spool == SpoolSettings() and k8s == K8sSettings()  # the documented defaults


def test_sources_section_configures_the_k8s_source(tmp_path: Path) -> None:
    path = tmp_path / "record.yaml"
    path.write_text(
        "cluster: prod\nspool: {max_bytes: 1048576}\n"
        "sources:\n  k8s: {scope: all, kinds: [Node], watch: {page_size: 7}}\n"
    )
    config, k8s = _k8s(path, {"GAPWATCH_RECORD_NAMESPACES": "a,b"})
    assert config.spool.max_bytes == 1048576 and config.spool.max_items is None
    assert (k8s.scope, k8s.kinds, k8s.watch.page_size, k8s.namespaces) == (
        "all",
        ("Node",),
        7,
        ("a", "b"),
    )


def test_default_scope_keeps_what_concerns_local_services() -> None:
    scope = LocalServiceScope()
    service = objects.services()[0]  # kubelb, type LoadBalancer, externalTrafficPolicy Local
    namespace = service["metadata"]["namespace"]
    scope.observe("ADDED", service)
    selector = service["spec"]["selector"]
    name = service["metadata"]["name"]
    slice_ = objects.endpoint_slice(namespace, "s-1", name, "n-1")
    assert scope.relevant("EndpointSlice", slice_)
    assert not scope.relevant("EndpointSlice", objects.endpoint_slice(namespace, "s", "x", "n"))
    assert scope.relevant("Pod", objects.pod(namespace, "p", "n-1", selector))
    assert not scope.relevant("Pod", objects.pod(namespace, "p", "n-1", {"app": "other"}))
    assert not scope.relevant("Pod", objects.pod("elsewhere", "p", "n-1", selector))
    template = {"metadata": {"labels": selector}}
    deployment = {"metadata": {"namespace": namespace}, "spec": {"template": template}}
    assert scope.relevant("Deployment", deployment)
    assert scope.relevant("Event", objects.event(namespace, "e", "service-controller", "x"))
    assert not scope.relevant("Event", objects.event(namespace, "e", "kubelet", "Pulled"))
    assert scope.relevant("Node", objects.node(1))
    cluster_ip = json.loads((FIXTURES / "k9s-service-clusterip.json").read_text())
    assert not scope.relevant("Service", cluster_ip)
    changed = copy.deepcopy(service)
    changed["spec"]["externalTrafficPolicy"] = "Cluster"
    scope.observe("MODIFIED", changed)
    assert not scope.relevant("Pod", objects.pod(namespace, "p", "n-1", selector))
