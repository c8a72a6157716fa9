"""deploy/components for the kube-proxy prober render offline with kustomize and validate:
the central prober only adds its source to the recorder's configuration (the rest stays the
base's) and egress to node ports; the node-local agent is a hostNetwork DaemonSet that probes
127.0.0.1, runs as non-root with no capabilities, is limited and probed, and may only read
Services. Under CI=true the tools must be there (no skip)."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gapwatch.recorder.config import load_config
from gapwatch.recorder.sources.kubeproxy.settings import parse_settings
from tests.k8s.kustomize import kustomize

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBE_VERSION = "1.32.0"


def _render(overlay: str) -> list[dict[str, Any]]:
    return kustomize(DEPLOY / "overlays" / overlay)


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def _validate(docs: list[dict[str, Any]]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("kubernetes-validate is required under CI=true")
        pytest.skip("kubernetes-validate not installed")
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def _split(record_yaml: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the recorder's own keys, the `sources:` section)."""
    config = yaml.safe_load(record_yaml)
    return {k: v for k, v in config.items() if k != "sources"}, config.get("sources") or {}


def test_central_prober_adds_only_its_source_and_node_egress(tmp_path: Path) -> None:
    docs = _render("central-prober")
    _validate(docs)
    base = yaml.safe_load((DEPLOY / "base" / "configmap.yaml").read_text())
    config = _one(docs, "ConfigMap", "gapwatch-recorder")["data"]["record.yaml"]
    own, sources = _split(config)
    assert own == yaml.safe_load(base["data"]["record.yaml"])
    settings = parse_settings(sources["kube-proxy"])
    assert settings.address_override is None and settings.metrics_interval_s == 0
    (tmp_path / "record.yaml").write_text(config)
    loaded = load_config(tmp_path / "record.yaml", {})  # the whole file is a valid configuration
    assert set(loaded.sources) == {"k8s", "kube-proxy"}
    egress = _one(docs, "NetworkPolicy", "gapwatch-recorder")["spec"]["egress"]
    ports = {(p["port"], p.get("endPort")) for rule in egress for p in rule.get("ports", [])}
    assert {(30000, 32767), (10256, None)} <= ports
    # every rule names its destination: the node ports' one the private ranges until set
    assert all(rule.get("to") for rule in egress)
    assert _cidrs(_node_port_rule(egress)) == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}


def _node_port_rule(egress: list[dict[str, Any]]) -> dict[str, Any]:
    (rule,) = [r for r in egress if any(p.get("endPort") == 32767 for p in r.get("ports", []))]
    return rule


def _cidrs(rule: dict[str, Any]) -> set[str]:
    assert rule.get("to"), "no destination: every address"
    return {peer["ipBlock"]["cidr"] for peer in rule["to"]}


def test_the_documented_node_cidr_patch_narrows_the_node_ports_rule_only(tmp_path: Path) -> None:
    """deploy/README.md's overlay that sets the nodes' CIDR replaces the node ports' rule's
    destinations (it finds that rule by index: a rule added before it in the base would make the
    patch narrow another one) and leaves the other rules as they were."""
    blocks = re.findall(r"```yaml\n(.*?)```", (DEPLOY / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if b.startswith("# overlays/prober/kustomization.yaml")]
    overlay = yaml.safe_load(block)
    mine = tmp_path / "overlays" / "prober"
    mine.mkdir(parents=True)
    overlay["resources"] = [os.path.relpath(DEPLOY / "overlays" / "central-prober", mine)]
    (mine / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    shipped = _one(_render("central-prober"), "NetworkPolicy", "gapwatch-recorder")
    patched = _one(kustomize(mine), "NetworkPolicy", "gapwatch-recorder")
    before, after = shipped["spec"]["egress"], patched["spec"]["egress"]
    assert _cidrs(_node_port_rule(after)) == {"10.0.0.0/16"}
    assert [r for r in after if r != _node_port_rule(after)] == [
        r for r in before if r != _node_port_rule(before)
    ]


def test_node_agent_is_a_least_privilege_host_network_daemonset(tmp_path: Path) -> None:
    docs = _render("node-agent")
    _validate(docs)
    ds = _one(docs, "DaemonSet", "gapwatch-kube-proxy-agent")
    namespace = ds["metadata"]["namespace"]
    assert namespace != "gapwatch"  # the recorder's namespace enforces `restricted`
    ns = _one(docs, "Namespace", namespace)["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns["pod-security.kubernetes.io/warn"] == "restricted"
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"].startswith("ghcr.io/gapwatch/gapwatch:")
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert env["GAPWATCH_PROBE_NODE"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert "secretKeyRef" in env["GAPWATCH_DB"]
    # it lists and watches Services and nothing else (its watcher is the recorder's: never a GET,
    # which the fake API would answer 404 for one object)
    role = _one(docs, "ClusterRole", "gapwatch-kube-proxy-agent")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]}
    ]
    binding = _one(docs, "ClusterRoleBinding", "gapwatch-kube-proxy-agent")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": namespace}
    ]
    # its configuration: probes 127.0.0.1 only, watches Services only, listens where probed
    config = _one(docs, "ConfigMap", pod["volumes"][0]["configMap"]["name"])
    _own, sources = _split(config["data"]["record.yaml"])
    settings = parse_settings(sources["kube-proxy"])
    assert settings.address_override == "127.0.0.1"
    # from the node itself a Local Service's NodePort answers through the cluster-wide chain
    # (--src-type LOCAL, kubernetes#77523): no NodePort look, not even `fallback`'s
    assert settings.nodeport == "never"
    # kube-proxy's metrics address (127.0.0.1:10249 by default) serves /metrics and /configz:
    # only the agent reaches it, and reads both (the gate's setting: docs/kubeproxy.md)
    assert settings.metrics_interval_s > 0 and settings.configz_interval_s == 600
    (tmp_path / "record.yaml").write_text(config["data"]["record.yaml"])
    recorder = load_config(tmp_path / "record.yaml", {})
    assert list(recorder.sources["k8s"]["kinds"]) == ["Service"]
    assert set(recorder.sources) == {"k8s", "kube-proxy"}
    assert recorder.listen.endswith(f":{container['ports'][0]['containerPort']}")


def _probe_target(container: dict[str, Any], probe: str) -> tuple[str | None, int]:
    """(host, port) the kubelet's `probe` connects to, a named port resolved."""
    get = container[probe]["httpGet"]
    port = get["port"]
    if isinstance(port, str):
        (port,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return get.get("host"), int(port)


def test_node_agent_listens_on_loopback_where_the_kubelet_probes(tmp_path: Path) -> None:
    """hostNetwork puts the agent's port on the node: on 0.0.0.0 its /metrics and health were open
    on every node IP to whatever the network lets reach the nodes, and most CNIs apply no
    NetworkPolicy to hostNetwork pods. It binds 127.0.0.1 and every probe names that host (the
    kubelet shares the node's network namespace; without `host` it would dial the pod IP, the
    node IP, where nothing listens)."""
    docs = _render("node-agent")
    ds = _one(docs, "DaemonSet", "gapwatch-kube-proxy-agent")
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    (container,) = pod["containers"]
    config = _one(docs, "ConfigMap", pod["volumes"][0]["configMap"]["name"])
    (tmp_path / "record.yaml").write_text(config["data"]["record.yaml"])
    env = {e["name"] for e in container["env"]}
    assert "GAPWATCH_RECORD_LISTEN" not in env  # nothing overrides the file's address
    host, _, port = load_config(tmp_path / "record.yaml", {}).listen.rpartition(":")
    assert ipaddress.ip_address(host).is_loopback
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert _probe_target(container, probe) == (host, int(port)), probe
