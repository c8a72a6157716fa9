"""A file given to the wrong importer (every record rejected) is named for the importer it is
made for; a file with some bad records is not second-guessed."""

from __future__ import annotations

from collections.abc import Callable
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
    prose = tmp_path / "notes.txt"  # nor a guess at what no shape shows
    prose.write_text("the LB dropped requests around 10:02\nno idea why\n")
    assert suggest(str(prose), "k8s-audit") is None


TESTS = FIXTURES.parent


@pytest.mark.parametrize(
    ("sample", "given", "names"),
    [
        ("k8s/k8s-docs-endpointslice-example-abc.yaml", "k8s-watch", "`kubectl get -o yaml`"),
        ("k8s/gke-describe-svc-external-lb-events.txt", "k8s-watch", "`kubectl describe` output"),
        ("k8s/gke-describe-svc-external-lb-events.txt", "events", "kubectl get events -o json"),
        ("kubeproxy/hcnp-body-aks-nginx-legacy-format.json", "prometheus", "`gapwatch probe`"),
        ("lb/alibaba-slb-DescribeHealthStatus.json", "events", "`gapwatch poll slb`"),
        ("lb/otc-huawei-elb-v3-list-members-response.json", "k8s-watch", "poll huawei-elb`"),
        ("lb/tencent-clb-DescribeTargets-example2-output.json", "cloudtrail", "poll clb`"),
        ("lb/tencent-clb-DescribeClassicalLBHealthStatus-example1-output.json", "events", "clb`"),
    ],
)
def test_a_real_file_no_importer_reads_is_named(sample: str, given: str, names: str) -> None:
    """What an SRE saves during an incident and no importer reads (a YAML dump, `kubectl
    describe`, a kube-proxy health answer, a cloud LB API answer) was twenty `not valid JSON`
    lines and no hint; the hint says what the file is and how to get that evidence in."""
    path = str(TESTS / sample)
    hint = suggest(path, given)
    assert hint is not None and hint.startswith(f"{path}: this is ") and names in hint


def test_a_saved_aws_answer_is_named(tmp_path: Path) -> None:
    """`aws elbv2 describe-target-health` output, as the AWS CLI's own example prints it
    (aws/aws-cli awscli/examples/elbv2/describe-target-health.rst)."""
    answer = tmp_path / "targets.json"
    answer.write_text(
        '{\n    "TargetHealthDescriptions": [\n        {\n            "HealthCheckPort": "80",\n'
        '            "Target": {"Id": "i-ceddcd4d", "Port": 80},\n'
        '            "TargetHealth": {"State": "healthy"}\n        }\n    ]\n}\n'
    )
    hint = suggest(str(answer), "cloudtrail")
    assert hint is not None and "describe-target-health" in hint
    assert "`gapwatch poll elbv2`" in hint and "`gapwatch import cloudtrail`" in hint


def test_the_hint_comes_only_when_every_record_was_rejected(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
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
    yaml = TESTS / "k8s" / "k8s-docs-endpointslice-example-abc.yaml"
    dump = gapwatch("import", "k8s-watch", str(yaml), cwd=tmp_path)
    assert dump.returncode == 3 and f"hint: {yaml}: this is YAML" in dump.stderr


def test_a_wrong_file_among_good_ones_gets_its_hint(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    """`gapwatch import k8s-watch captures/*` with one file not a watch capture: the good ones
    import, and the one every record of which was rejected is named for what it is (it got its
    rejections and no hint: the hint came only when the whole import was rejected)."""
    migrated_sqlite(tmp_path / "gapwatch.db")
    node = FIXTURES / "aws-kops-nodelist-2nodes.json"
    audit = FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"
    yaml = TESTS / "k8s" / "k8s-docs-endpointslice-example-abc.yaml"
    glob = gapwatch("import", "k8s-watch", str(node), str(audit), str(yaml), cwd=tmp_path)
    assert glob.returncode == 3 and "imported (Node 2)" in glob.stderr
    hints = [line for line in glob.stderr.splitlines() if line.startswith("hint: ")]
    assert hints == [
        f"hint: {audit}: this looks like input for `gapwatch import k8s-audit`, not k8s-watch",
        next(line for line in hints if line.startswith(f"hint: {yaml}: this is YAML")),
    ]
    observations = tmp_path / "good.ndjson"
    assert gapwatch("export", "events", "-o", str(observations), cwd=tmp_path).returncode == 0
    mixed = gapwatch("import", "events", str(observations), str(audit), cwd=tmp_path)
    assert mixed.returncode == 3
    assert f"hint: {audit}: this looks like input for `gapwatch import k8s-audit`" in mixed.stderr
    assert f"hint: {observations}" not in mixed.stderr
