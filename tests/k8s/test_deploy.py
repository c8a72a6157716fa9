"""The deploy/ manifests: kustomize renders them offline, kubernetes-validate accepts them, RBAC
grants exactly list/watch on the watched resources, the Deployment is operable, the Dockerfile
follows the container rules. Under CI=true the tools must be there (no skip)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gapwatch.recorder.config import load_config
from gapwatch.recorder.sources.k8s.config import parse_settings
from gapwatch.recorder.sources.k8s.resources import RESOURCES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBE_VERSION = "1.32.0"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if _ci():
            pytest.fail("kubectl is required under CI=true")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "base")], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_manifests_validate_offline(rendered: list[dict[str, Any]]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        if _ci():
            pytest.fail("kubernetes-validate is required under CI=true (pip install .[test])")
        pytest.skip("kubernetes-validate not installed")
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "CronJob",
            "Deployment",
            "Namespace",
            "NetworkPolicy",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "ServiceAccount",
        ]
    )
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    broken = json.loads(json.dumps(_one(rendered, "Deployment")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_rbac_grants_only_list_watch_on_the_watched_resources(
    rendered: list[dict[str, Any]],
) -> None:
    assert not [d for d in rendered if d["kind"] in ("Role", "RoleBinding")]
    role = _one(rendered, "ClusterRole")
    granted: set[tuple[str, str]] = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule  # no resourceNames/URLs
        assert set(rule["verbs"]) == {"list", "watch"}, rule  # no `get`: never used
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource)
                granted.add((group, resource))
    wanted = {(r.api_group, r.plural) for r in RESOURCES.values()}
    assert granted == wanted
    binding = _one(rendered, "ClusterRoleBinding")
    account = _one(rendered, "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]


def test_deployment_is_probed_limited_non_root_and_reads_the_db_from_a_secret(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    deployment = _one(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == _one(rendered, "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    for container in pod["containers"] + pod["initContainers"]:
        limits = container["resources"]["limits"]
        assert {"cpu", "memory"} <= set(limits)
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e for e in container["env"]}
        assert "secretKeyRef" in env["GAPWATCH_DB"]["valueFrom"]
    recorder = pod["containers"][0]
    assert recorder["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert recorder["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The shipped configuration is one the recorder accepts.
    config_map = _one(rendered, "ConfigMap")
    (tmp_path / "record.yaml").write_text(config_map["data"]["record.yaml"])
    config = load_config(tmp_path / "record.yaml", {})
    parse_settings(config.sources["k8s"])  # the k8s source accepts its section
    assert config.listen.endswith(":" + str(recorder["ports"][0]["containerPort"]))
    assert config.shutdown_timeout_s < pod["terminationGracePeriodSeconds"]
    policy = _one(rendered, "NetworkPolicy", "gapwatch-recorder")
    assert (
        policy["spec"]["podSelector"]["matchLabels"]
        == deployment["spec"]["selector"]["matchLabels"]
    )
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), f"egress rule without a destination: {rule}"
        for peer in rule["to"]:
            assert "0.0.0.0/0" not in str(peer)
    # separate credentials: DDL for the migration, INSERT/SELECT for the recorder
    migrate = pod["initContainers"][0]
    secret = {c["name"]: c["env"][0]["valueFrom"]["secretKeyRef"]["name"]
              for c in (migrate, recorder)}  # fmt: skip
    assert secret["migrate"] != secret["recorder"]
    # the API token in the recorder container only (it watches the API; the migration does not)
    assert pod["automountServiceAccountToken"] is False
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    mounted = {c["name"]: {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
               for c in (migrate, recorder)}  # fmt: skip
    assert token_dir not in mounted["migrate"]
    volume = {v["name"]: v for v in pod["volumes"]}[mounted["recorder"][token_dir]]
    sources = volume["projected"]["sources"]
    assert any("serviceAccountToken" in s for s in sources)
    assert {"key": "ca.crt", "path": "ca.crt"} in next(
        s["configMap"]["items"] for s in sources if "configMap" in s
    )
    memory = migrate["resources"]["limits"]["memory"]
    assert memory.endswith("Mi") and int(memory[:-2]) >= 256  # 138 MiB measured peak
    budget = _one(rendered, "PodDisruptionBudget")
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_the_store_is_maintained_daily_by_the_owner_of_its_tables(
    rendered: list[dict[str, Any]],
) -> None:
    """The recorder's login may not create or drop partitions (deploy/sql/roles.sql): without a
    job run by the owner, the days created at `db upgrade` run out after a week, every later row
    waits in events_default and no retention applies (docs/retention.md)."""
    job = _one(rendered, "CronJob")
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    minute, hour, *days = job["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and days == ["*", "*", "*"]  # once a day
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    # Pod Security `restricted` (the namespace enforces it: a pod short of it is not admitted)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["args"] == ["db", "maintain"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    # the owner's login: the one the migrate init container uses, not the recorder's
    init = _one(rendered, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]
    assert env["GAPWATCH_DB"] == init["env"][0]["valueFrom"]
    # a retention only where the user's ConfigMap sets one: none is never a silent default
    retention = env["GAPWATCH_RETENTION"]["configMapKeyRef"]
    assert retention == {"name": "gapwatch-cluster", "key": "retention", "optional": True}
    labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    policy = _one(rendered, "NetworkPolicy", "gapwatch-maintain")
    assert policy["spec"]["podSelector"]["matchLabels"] == labels
    assert "ingress" not in policy["spec"] and "Ingress" in policy["spec"]["policyTypes"]
    recorder_policy = _one(rendered, "NetworkPolicy", "gapwatch-recorder")
    assert policy["spec"]["egress"][-1] == recorder_policy["spec"]["egress"][-1]  # PostgreSQL
    # the recorder's own selectors do not take the job's pods in
    for selector in (recorder_policy["spec"]["podSelector"],
                     _one(rendered, "PodDisruptionBudget")["spec"]["selector"]):  # fmt: skip
        assert not set(selector["matchLabels"].items()) <= set(labels.items())


def test_the_recorder_image_takes_the_cloud_sdks_as_a_build_arg() -> None:
    """`sources: alibaba-slb` (tencent-clb, huawei-elb) needs an extra the recorder image did not
    install, and the image has no pip: the recorder stopped at start with `pip install
    'gapwatch[alibaba]'`. --build-arg EXTRAS=... installs them; without it, gapwatch alone. The
    shell expands the argument (RUN is not substituted by the builder): run that expansion."""
    import subprocess
    import tomllib

    text = (DEPLOY / "Dockerfile").read_text()
    build = re.split(r"^FROM ", text, flags=re.M)[1]
    assert build.startswith("${PYTHON_IMAGE} AS build")
    assert re.search(r'^ARG EXTRAS=""$', build, re.M)  # declared in the stage that uses it
    (argument,) = re.findall(
        r"/opt/recorder/bin/pip install --no-cache-dir --constraint constraints.txt (\S+)", build
    )

    def expanded(extras: str | None) -> str:
        env = {"PATH": "/usr/bin:/bin"} | ({} if extras is None else {"EXTRAS": extras})
        done = subprocess.run(["sh", "-c", f"printf %s {argument}"], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout

    assert expanded(None) == expanded("") == "."
    assert expanded("alibaba,tencent") == ".[alibaba,tencent]"
    extras = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    for name in ("alibaba", "tencent", "huawei", "clouds"):  # what the comment offers
        assert name in extras["optional-dependencies"] and name in build


def test_dockerfile_slim_numeric_user_exec_entrypoint() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert image is not None
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image.group(1))  # by digest
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert bases and all(b in ("${PYTHON_IMAGE}", "runtime") for b in bases)
    # the default (last) target is the recorder, installed without the dashboard extra
    stages = re.split(r"^FROM ", text, flags=re.M)
    assert stages[-1].startswith("runtime AS recorder") and "/opt/recorder" in stages[-1]
    assert '/opt/recorder/bin/pip install --no-cache-dir --constraint constraints.txt ".' in text
    assert "pip uninstall --yes pip" in text  # no pip in the final images
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and re.fullmatch(r"\d+(:\d+)?", users[-1])
    entry = re.findall(r"^ENTRYPOINT\s+(.+)$", text, re.M)
    assert entry and json.loads(entry[-1]) == ["gapwatch"]  # exec form: a JSON array
