"""Every pod deploy/ runs has `enableServiceLinks: false`: without it the kubelet gives each
container a `NAME_PORT=tcp://ADDRESS:PORT` variable (and `_SERVICE_HOST`, `_PORT_N_TCP`...) for
every Service of its namespace, so a Service named `gapwatch` gives GAPWATCH_PORT, the variable
`gapwatch dashboard --port` reads, and ours (`gapwatch-dashboard`) a GAPWATCH_DASHBOARD_* family
next to the GAPWATCH_* settings. The manifests pass `--port`, but the variables are noise in every
pod and a trap for the next option read from the environment. Rendered offline with kustomize, the
base and every overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.k8s.kustomize import kustomize

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RENDERED = ["base", *sorted(f"overlays/{p.name}" for p in (DEPLOY / "overlays").iterdir())]


def _pods(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of each pod template a document holds."""
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        return [(name, spec["jobTemplate"]["spec"]["template"]["spec"])]
    if doc["kind"] in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
        return [(name, spec["template"]["spec"])]
    return []


@pytest.mark.parametrize("where", RENDERED)
def test_no_pod_gets_service_link_variables(where: str) -> None:
    pods = [pod for doc in kustomize(DEPLOY / where) for pod in _pods(doc)]
    assert pods
    linked = [name for name, spec in pods if spec.get("enableServiceLinks") is not False]
    assert not linked, f"{where}: {linked} get a variable per Service of the namespace"
