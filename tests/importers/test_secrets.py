"""`gapwatch import k8s-audit` and `k8s-watch` store no secret a Pod spec carries (real CLI,
real SQLite file): the recorder's `trim` projection applies to imported objects too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import gapwatch

ENV_SECRET = "env-value-hunter2"
APPLIED_SECRET = "last-applied-hunter3"
ARG_SECRET = "arg-hunter6"


def _pod() -> dict[str, Any]:
    env = [{"name": "DB_PASSWORD", "value": APPLIED_SECRET}]
    applied = {"spec": {"containers": [{"env": env}]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "resourceVersion": "101",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied),
                "team": "web",
            },
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "time": "2026-12-01T10:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {}},
                },
            ],
        },
        "spec": {
            "nodeName": "n1",
            "containers": [
                {
                    "name": "app",
                    "image": "web:1",
                    "args": [f"--db-password={ARG_SECRET}"],
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                    "env": [
                        {"name": "DB_PASSWORD", "value": ENV_SECRET},
                        {
                            "name": "FROM_SECRET",
                            "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                        },
                    ],
                },
            ],
        },
        "status": {"phase": "Running"},
    }


def _audit() -> dict[str, Any]:
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "a1", "stage": "ResponseComplete", "verb": "update",
        "requestURI": "/api/v1/namespaces/default/pods/web-1", "user": {"username": "kubectl"},
        "objectRef": {"resource": "pods", "namespace": "default", "name": "web-1",
                      "apiVersion": "v1"},
        "responseStatus": {"code": 200}, "responseObject": _pod(),
        "requestReceivedTimestamp": "2026-12-01T10:00:01.000000Z",
        "stageTimestamp": "2026-12-01T10:00:01.100000Z",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "record"),
    [("k8s-audit", _audit()), ("k8s-watch", {"type": "ADDED", "object": _pod()})],
)
def test_an_imported_pod_keeps_no_secret(
    tmp_path: Path, fmt: str, record: dict[str, Any], migrated_sqlite: Callable[[Path], str]
) -> None:
    store = tmp_path / "store.db"
    db = migrated_sqlite(store)  # as `gapwatch db upgrade --db` leaves it
    source = tmp_path / "records.json"
    source.write_text(json.dumps(record) + "\n")
    done = gapwatch("import", fmt, str(source), "--db", db, "--cluster", "c1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 imported" in done.stdout + done.stderr
    shown = gapwatch("sql", "SELECT payload FROM events", "--db", db, "--json", cwd=tmp_path)
    payload = json.loads(json.loads(shown.stdout)[0]["payload"])
    env = payload["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "DB_PASSWORD", "value": "<redacted by gapwatch>"}
    assert env[1]["valueFrom"]["secretKeyRef"] == {"name": "db", "key": "password"}
    container = payload["spec"]["containers"][0]
    assert container["args"] == ["<redacted by gapwatch>"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert payload["metadata"]["annotations"] == {"team": "web"}
    assert payload["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "time": "2026-12-01T10:00:00Z"}
    ]
    # nowhere in the file, the facts and any page the store holds included
    raw = store.read_bytes()
    assert ENV_SECRET.encode() not in raw and APPLIED_SECRET.encode() not in raw
    assert ARG_SECRET.encode() not in raw


URL_SECRET = "tok-hunter4"
CODE_SECRET = "oauth-hunter5"
#: An ALB line whose request carries a token and whose redirect carries an OAuth code.
ALB_LINE = (
    "https 2026-12-01T10:00:01.000000Z app/web/1 10.0.0.9:5000 10.0.1.12:31805 0.001 0.002 "
    f'0.000 302 302 100 200 "GET https://shop.example.com:443/cart?access_token={URL_SECRET}'
    '&page=2 HTTP/1.1" "curl/8" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
    'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1 "Root=1-2" "shop.example.com" '
    '"arn:cert" 0 2026-12-01T10:00:00.990000Z "redirect" '
    f'"https://login.example.com/cb?code={CODE_SECRET}" "-" "10.0.1.12:31805" "302" "-" "-"'
)


def test_an_imported_access_log_line_keeps_no_query_string_value(
    tmp_path: Path, store_url: str
) -> None:
    """Session 29's review: the token in a request's URL was stored twice (the raw line and
    `fields.request`), the redirect's OAuth code twice more. The names stay; the values go."""
    source = tmp_path / "alb.log"
    source.write_text(ALB_LINE + "\n")
    done = gapwatch(
        "import", "elb-access-log", str(source), "--db", store_url, "--cluster", "c1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    dumped = gapwatch("export", "events", "--db", store_url, cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    [payload] = [json.loads(row)["payload"] for row in dumped.stdout.splitlines()]
    request = "GET https://shop.example.com:443/cart?access_token=REDACTED&page=REDACTED HTTP/1.1"
    assert payload["fields"]["request"] == request
    assert payload["fields"]["redirect_url"] == "https://login.example.com/cb?code=REDACTED"
    assert f'"{request}"' in payload["line"] and "cb?code=REDACTED" in payload["line"]
    assert URL_SECRET not in dumped.stdout and CODE_SECRET not in dumped.stdout
    if store_url.startswith("sqlite:///"):  # nor in the facts, or any page of the file
        raw = Path(store_url.removeprefix("sqlite:///")).read_bytes()
        assert URL_SECRET.encode() not in raw and CODE_SECRET.encode() not in raw
