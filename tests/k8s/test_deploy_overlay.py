"""A user's overlay, as deploy/README.md writes it, names the cluster and the image: rendered with
`kubectl kustomize` (offline), every recorder and agent pod runs the user's image and reads
GAPWATCH_CLUSTER from a ConfigMap in its own namespace that holds the user's cluster name; the
shipped manifests name no cluster. Under CI=true kubectl must be there (no skip)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.kustomize import kustomize

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MARKER = "# overlays/mine/kustomization.yaml"


def _documented_overlay() -> dict[str, Any]:
    """The overlay shown in deploy/README.md (the YAML block that starts with MARKER)."""
    blocks = re.findall(r"```yaml\n(.*?)```", (DEPLOY / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if b.startswith(MARKER)]
    overlay = yaml.safe_load(block)
    assert isinstance(overlay, dict)
    return overlay


def _pods(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, pod spec) of every workload."""
    return [
        (d["metadata"]["namespace"], d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "DaemonSet")
    ]


def _cluster_of(docs: list[dict[str, Any]], namespace: str, container: dict[str, Any]) -> str:
    """The GAPWATCH_CLUSTER value `container` gets from its ConfigMap."""
    (env,) = [e for e in container.get("env", []) if e["name"] == "GAPWATCH_CLUSTER"]
    ref = env["valueFrom"]["configMapKeyRef"]
    assert ref.get("optional") is not True  # no ConfigMap, no pod: never a silent default
    (config_map,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap"
        and d["metadata"]["name"] == ref["name"]
        and d["metadata"]["namespace"] == namespace
    ]
    value = config_map["data"][ref["key"]]
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize("base", ["base", "overlays/node-agent"])
def test_the_documented_overlay_sets_image_and_cluster_on_every_pod(
    tmp_path: Path, base: str
) -> None:
    overlay = _documented_overlay()
    mine = tmp_path / "overlays" / "mine"
    mine.mkdir(parents=True)
    overlay["resources"] = [os.path.relpath(DEPLOY / base, mine)]
    (generator,) = overlay["configMapGenerator"]
    generator["literals"] = ["name=ap-south-7"]
    if base != "base":  # the README's commented entry: the agent's namespace gets one too
        overlay["configMapGenerator"].append({**generator, "namespace": "gapwatch-agent"})
    (image,) = overlay["images"]
    image.update(newName="registry.test/team/gw", newTag="9.9.9")
    (mine / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = kustomize(mine)
    pods = _pods(docs)
    assert len(pods) == (1 if base == "base" else 2)
    for namespace, pod in pods:
        containers = pod["containers"] + pod.get("initContainers", [])
        assert {c["image"] for c in containers} == {"registry.test/team/gw:9.9.9"}
        assert _cluster_of(docs, namespace, pod["containers"][0]) == "ap-south-7"
    (job,) = [d for d in docs if d["kind"] == "CronJob"]  # the store's maintenance
    job_pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {c["image"] for c in job_pod["containers"]} == {"registry.test/team/gw:9.9.9"}


@pytest.mark.parametrize("base", ["base", "overlays/node-agent", "overlays/central-prober"])
def test_shipped_manifests_name_no_cluster_and_require_one(base: str) -> None:
    docs = kustomize(DEPLOY / base)
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            assert doc["metadata"]["name"] != "gapwatch-cluster"
            for text in doc.get("data", {}).values():
                assert "cluster" not in (yaml.safe_load(text) or {})
    for namespace, pod in _pods(docs):
        (env,) = [e for e in pod["containers"][0]["env"] if e["name"] == "GAPWATCH_CLUSTER"]
        assert env["valueFrom"]["configMapKeyRef"]["name"] == "gapwatch-cluster", namespace
