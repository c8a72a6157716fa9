"""The trim projection's redaction and redact() of store URLs (pure functions)."""

from __future__ import annotations

import copy

import pytest

from gapwatch.recorder.sources.k8s.noop import fingerprint, project
from gapwatch.recorder.sources.k8s.redaction import REDACTED, parse_path, redact_paths
from gapwatch.recorder.store import redact

CONTAINER = {
    "name": "app",
    "env": [
        {"name": "PASSWORD", "value": "hunter2"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "EMPTY"},
    ],
}


def _deployment() -> dict[str, object]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"vault.io/token": "t0k3n", "keep": "me"}},
        "spec": {
            "template": {
                "spec": {"containers": [CONTAINER], "initContainers": [copy.deepcopy(CONTAINER)]}
            }
        },
    }


def test_trim_redacts_env_values_of_pods_and_templates() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [CONTAINER]}}
    original = copy.deepcopy(pod)
    stored = project(pod, "trim")
    assert pod == original  # never mutated
    env = stored["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "PASSWORD", "value": REDACTED}
    assert env[1] == CONTAINER["env"][1] and env[2] == {"name": "EMPTY"}
    dep = project(_deployment(), "trim")
    for key in ("containers", "initContainers"):
        assert dep["spec"]["template"]["spec"][key][0]["env"][0]["value"] == REDACTED
    # full keeps everything the API returned, except the operator's own paths
    assert project(pod, "full") is pod


@pytest.mark.parametrize(
    ("kind", "spec_path"),
    [("Pod", ("spec",)), ("DaemonSet", ("spec", "template", "spec")),
     ("CronJob", ("spec", "jobTemplate", "spec", "template", "spec"))],
)  # fmt: skip
def test_trim_redacts_args_and_command_of_every_container_kind(
    kind: str, spec_path: tuple[str, ...]
) -> None:
    """Secrets passed as flags (`--password=...`, `--token X`) were stored as recorded under
    trim; replay reads only the preStop hook's command, which stays."""
    hook = {"preStop": {"exec": {"command": ["/bin/sleep", "15"]}}}
    container = {"name": "c", "command": ["/app", "--token", "t0k"], "args": ["--password=pw"],
                 "lifecycle": hook, "livenessProbe": {"exec": {"command": ["check"]}}}  # fmt: skip
    spec = {key: [copy.deepcopy(container)] for key in
            ("containers", "initContainers", "ephemeralContainers")}  # fmt: skip
    obj: dict[str, object] = {"kind": kind, "metadata": {"name": "x"}}
    node: dict[str, object] = obj
    for key in spec_path[:-1]:
        node = node.setdefault(key, {})  # type: ignore[assignment]
    node[spec_path[-1]] = spec
    original = copy.deepcopy(obj)
    stored = project(obj, "trim")
    assert obj == original
    got: object = stored
    for key in spec_path:
        got = got[key]  # type: ignore[index]
    for containers in got.values():  # type: ignore[attr-defined]
        [c] = containers
        assert c["command"] == [REDACTED] * 3 and c["args"] == [REDACTED]
        assert c["lifecycle"] == hook and c["livenessProbe"] == container["livenessProbe"]
        assert c["name"] == "c"
    assert project(obj, "full") is obj
    # a stored object fingerprints like the API's, so a restart drops its next no-op update
    assert fingerprint(kind, stored) == fingerprint(kind, obj)


def test_configured_paths_under_either_projection() -> None:
    paths = ["/metadata/annotations/vault.io~1token", "/spec/template/spec/containers/*/name"]
    for projection in ("full", "trim"):
        stored = project(_deployment(), projection, paths)
        assert stored["metadata"]["annotations"] == {"vault.io/token": REDACTED, "keep": "me"}
        assert stored["spec"]["template"]["spec"]["containers"][0]["name"] == REDACTED
    assert redact_paths({"a": 1}, ["/missing/*/x"]) == {"a": 1}
    with pytest.raises(ValueError, match="JSON Pointer"):
        parse_path("metadata/annotations")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=s3cret&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://h/db?user=u&sslpassword=x&PassWord=y",
         "postgresql://h/db?user=u&sslpassword=***&PassWord=***"),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
         "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        ("sqlite:////tmp/with@sign.db", "sqlite:////tmp/with@sign.db"),
        ("host=h password=s3cret", "<unparseable URL>"),
    ],
)  # fmt: skip
def test_redact_covers_every_url_form(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_stored_pod_fingerprints_like_the_api_object() -> None:
    from gapwatch.recorder.sources.k8s.noop import fingerprint

    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [CONTAINER]}}
    assert fingerprint("Pod", project(pod, "trim")) == fingerprint("Pod", pod)
