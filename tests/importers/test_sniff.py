"""A file given to the wrong importer (every record rejected) is named for the importer it is
made for; a file with some bad records is not second-guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gapwatch.recorder.importers.sniff import suggest
from tests.importers.helpers import FIXTURES
from tests.test_cli import gapwatch

#: A kube-proxy /metrics page as Prometheus's text exposition format shapes it.
EXPOSITION = """\
# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy rules were synced
# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge
kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7001e+09
rest_client_requests_total{code="200",host="10.0.0.1:443",method="GET"} 42
"""


@pytest.mark.parametrize(
    ("sample", "given", "made_for"),
    [
        ("falco-k8s-audit-minikube-2018.jsonl", "cloudtrail", "k8s-audit"),
        ("falco-k8s-audit-minikube-2018.jsonl", "events", "k8s-audit"),
        ("audit2rbac-demo-audit-v1.log", "elb-access-log", "k8s-audit"),
        ("plaso-aws_elb_access.log", "k8s-audit", "elb-access-log"),
        ("aws-kops-node-watch-modified.jsonl", "k8s-audit", "k8s-watch"),
        ("awsdocs-alb-cloudtrail-DeleteLoadBalancer.json", "k8s-watch", "cloudtrail"),
    ],
)
def test_a_real_sample_is_named_for_its_importer(sample: str, given: str, made_for: str) -> None:
    hint = suggest(str(FIXTURES / sample), given)
    assert hint is not None and f"`gapwatch import {made_for}`, not {given}" in hint


def test_what_no_importer_reads(tmp_path: Path) -> None:
    page = tmp_path / "kube-proxy.prom"
    page.write_text(EXPOSITION)
    hint = suggest(str(page), "prometheus")
    assert hint is not None and "text exposition format" in hint and "query_range" in hint
    prose = tmp_path / "notes.txt"
    prose.write_text("the LB dropped requests around 10:02\nno idea why\n")
    assert suggest(str(prose), "k8s-audit") is None


def test_the_hint_comes_only_when_every_record_was_rejected(tmp_path: Path) -> None:
    assert gapwatch("db", "upgrade", cwd=tmp_path).returncode == 0
    audit = FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"
    wrong = gapwatch("import", "cloudtrail", str(audit), cwd=tmp_path)
    assert wrong.returncode == 3
    assert f"hint: {audit}: this looks like input for `gapwatch import k8s-audit`" in wrong.stderr
    events = gapwatch("import", "events", str(audit), cwd=tmp_path)
    assert events.returncode == 3 and "`gapwatch import k8s-audit`, not events" in events.stderr
    # one bad line among good ones: the format word was right
    lines = audit.read_text().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    some = gapwatch("import", "k8s-audit", str(mixed), cwd=tmp_path)
    assert some.returncode == 3 and f"{mixed}:2: not valid JSON" in some.stderr
    assert "hint:" not in some.stderr
