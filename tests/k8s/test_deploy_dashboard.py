"""deploy/components/dashboard renders offline and validates: the dashboard runs in the recorder's
namespace (Pod Security `restricted`, enforced) as a pod that meets it, runs its pages as
roles.sql's gapwatch_dashboard (which may refresh replay's projections) and its SQL console as the
read-only gapwatch_console, listens beyond loopback only with Streamlit's OIDC login
mounted where `gapwatch dashboard` looks for it, is probed on Streamlit's health path, and its
Service and NetworkPolicy select it and nothing of the recorder's. Under CI=true the tools must
be there (no skip)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from gapwatch.dashboard.exposure import PROXY_ENV, is_loopback, secrets_files
from tests.k8s.kustomize import kustomize
from tests.k8s.test_db_roles import ROLES_SQL
from tests.kubeproxy.test_deploy_components import DEPLOY, _one, _probe_target, _validate

#: env -> the Secret with its store URL: the pages may refresh replay's projections (roles.sql's
#: gapwatch_dashboard), the SQL console reads only (gapwatch_console)
LOGIN_SECRETS = {
    "GAPWATCH_DB": "gapwatch-db-dashboard",
    "GAPWATCH_CONSOLE_DB": "gapwatch-db-console",
}
SECRET_LOGINS = {
    "gapwatch-db-dashboard": "gapwatch_dashboard",
    "gapwatch-db-console": "gapwatch_console",
}


def test_dashboard_is_a_restricted_pod_with_a_read_only_console_behind_its_login() -> None:
    docs = kustomize(DEPLOY / "overlays" / "dashboard")
    _validate(docs)
    deployment = _one(docs, "Deployment", "gapwatch-dashboard")
    namespace = deployment["metadata"]["namespace"]
    labels = _one(docs, "Namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork")
    (container,) = pod["containers"]
    assert container["image"].startswith("ghcr.io/gapwatch/gapwatch-dashboard:")
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])

    # the pages as the dashboard's login (writes replay's projections only), the SQL console as
    # the read-only console login, neither a login the recorder or the migration uses
    env = {e["name"]: e for e in container["env"]}
    recorder = _one(docs, "Deployment", "gapwatch-recorder")["spec"]["template"]["spec"]
    written_by = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in recorder["containers"] + recorder["initContainers"]
        for e in c["env"]
        if e["name"] == "GAPWATCH_DB"
    }
    logins = {k: env[k]["valueFrom"]["secretKeyRef"]["name"] for k in LOGIN_SECRETS}
    assert logins == LOGIN_SECRETS and not set(logins.values()) & written_by
    header = (DEPLOY / "components" / "dashboard" / "kustomization.yaml").read_text()
    for secret in LOGIN_SECRETS.values():  # each Secret's login, as the component says to make it
        (line,) = [line for line in header.splitlines() if f"generic {secret} " in line]
        assert f"postgresql://{SECRET_LOGINS[secret]}:" in line, line
        assert f"CREATE ROLE {SECRET_LOGINS[secret]} LOGIN" in ROLES_SQL.read_text()

    # beyond loopback only with the OIDC login where `gapwatch dashboard` reads it (no proxy
    # claimed: nothing stands in front of it)
    args = container["args"]
    assert args[0] == "dashboard" and "--no-browser" in args
    address = args[args.index("--address") + 1]
    assert PROXY_ENV not in env
    if not is_loopback(address):
        home = Path(env["HOME"]["value"])
        cwd = Path(container.get("workingDir", "/"))
        mounted = {
            PurePosixPath(m["mountPath"])
            for m in container["volumeMounts"]
            if any(v["name"] == m["name"] and "secret" in v for v in pod["volumes"])
        }
        assert mounted & {PurePosixPath(p) for p in secrets_files(cwd, home)}
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert str(home) in writable  # Streamlit and replay's cache write under HOME
    port = int(args[args.index("--port") + 1])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
        assert _probe_target(container, probe) == (None, port), probe

    # the Service and the policy take the dashboard's pods and no recorder's
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _one(docs, "Service", "gapwatch-dashboard")["spec"]
    assert set(service["selector"].items()) <= set(pod_labels.items())
    (served,) = service["ports"]
    assert served["targetPort"] in ("http", port)
    policy = _one(docs, "NetworkPolicy", "gapwatch-dashboard")["spec"]
    assert set(policy["podSelector"]["matchLabels"].items()) <= set(pod_labels.items())
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for r in policy["ingress"] for p in r["ports"]] == [port]
    for rule in policy["egress"]:
        assert rule.get("to"), f"egress rule without a destination: {rule}"
    for name in ("gapwatch-recorder", "gapwatch-maintain"):
        selector = _one(docs, "NetworkPolicy", name)["spec"]["podSelector"]["matchLabels"]
        assert not set(selector.items()) <= set(pod_labels.items()), name
    budget: dict[str, Any] = _one(docs, "PodDisruptionBudget", "gapwatch-recorder")
    assert not set(budget["spec"]["selector"]["matchLabels"].items()) <= set(pod_labels.items())


def _proxy_mode_overlays() -> list[Path]:
    """Overlays of deploy/ whose dashboard runs with GAPWATCH_DASHBOARD_AUTH=proxy."""
    found = []
    for overlay in sorted((DEPLOY / "overlays").iterdir()):
        for doc in kustomize(overlay):
            if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "gapwatch-dashboard":
                (container,) = doc["spec"]["template"]["spec"]["containers"]
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                if env.get(PROXY_ENV) == "proxy":
                    found.append(overlay)
    return found


def test_proxy_mode_admits_only_the_proxy_to_the_dashboards_port() -> None:
    """Session 29's review: with GAPWATCH_DASHBOARD_AUTH=proxy the dashboard trusts whatever
    reaches port 8501, and its NetworkPolicy admitted every pod until an operator narrowed its
    `from`. deploy/components/dashboard-proxy sets the mode and ships the narrowed policy: only
    pods with the proxy's labels, in the proxy's namespace, both as its header documents."""
    assert _proxy_mode_overlays() == [DEPLOY / "overlays" / "dashboard-proxy"]
    docs = kustomize(DEPLOY / "overlays" / "dashboard-proxy")
    _validate(docs)
    deployment = _one(docs, "Deployment", "gapwatch-dashboard")
    pod = deployment["spec"]["template"]["spec"]
    assert not any("secret" in v for v in pod["volumes"])  # no OIDC secrets.toml to create
    (container,) = pod["containers"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/home/gapwatch", "/tmp"}
    policy = _one(docs, "NetworkPolicy", "gapwatch-dashboard")["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert set(policy["podSelector"]["matchLabels"].items()) <= set(pod_labels.items())
    assert "Ingress" in policy["policyTypes"]
    header = (DEPLOY / "components" / "dashboard-proxy" / "kustomization.yaml").read_text()
    for rule in policy["ingress"]:
        assert rule.get("from"), f"an ingress rule that admits every pod: {rule}"
        for peer in rule["from"]:
            assert "ipBlock" not in peer, peer
            # a pod selector with labels, in one named namespace: not any pod, not any namespace
            pods = peer["podSelector"]["matchLabels"]
            namespaces = peer["namespaceSelector"]["matchLabels"]
            assert pods and list(namespaces) == ["kubernetes.io/metadata.name"], peer
            for key, value in pods.items():
                assert f"`{key}: {value}`" in header
            assert f"namespace `{namespaces['kubernetes.io/metadata.name']}`" in header
        assert [p["port"] for p in rule["ports"]] == [8501]
