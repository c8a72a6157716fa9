"""What a file no importer reads is, and where its evidence comes from instead.

An SRE opening a postmortem has what was saved during the incident: `kubectl get -o yaml`,
`kubectl describe svc`, a `curl` of kube-proxy's healthCheckNodePort, `aws elbv2
describe-target-health`. Given to an importer, each was twenty `not valid JSON` (or `eventSource:
missing`) lines and "0 imported", and `sniff.suggest` had no importer to name. `describe` names
the shape (from its text, never from the file's name) and the way to the same evidence with
times: `-o json` for the importers, the live probe and pollers for snapshots that carry none.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from gapwatch.recorder.ndjson import open_input

#: Bytes read from the head of a file: a saved API answer or a `kubectl` page fits, and a
#: pretty-printed document larger than this is not one of those snapshots.
HEAD_BYTES = 1024 * 1024

_YAML_KEY = re.compile(rb"(?m)^[ \t]*(?:- )?(apiVersion|kind):[ \t]*[\w./-]+[ \t]*\r?$")
_DESCRIBE = re.compile(rb"(?m)^Name:[ \t]+\S")
_DESCRIBE_FIELD = re.compile(rb"(?m)^(?:Namespace|Labels|Annotations|Events):")

#: Top-level keys of a saved LB API answer -> (what it is, how gapwatch reads that LB instead).
_LB_ANSWERS = {
    "TargetHealthDescriptions": (
        "`aws elbv2 describe-target-health` output",
        "`gapwatch poll elbv2` polls it and records each change with its time, and CloudTrail's "
        "RegisterTargets/DeregisterTargets (`gapwatch import cloudtrail`) say when the "
        "membership changed",
    ),
    "InstanceStates": (
        "`aws elb describe-instance-health` output (Classic ELB)",
        "CloudTrail's RegisterInstancesWithLoadBalancer/DeregisterInstancesFromLoadBalancer "
        "(`gapwatch import cloudtrail`) say when the membership changed",
    ),
    "BackendServers": (
        "an Alibaba Cloud SLB API answer",
        "`gapwatch poll slb` polls it and records each change with its time",
    ),
    "members": (
        "a Huawei Cloud ELB v3 member list",
        "`gapwatch poll huawei-elb` polls it and records each change with its time",
    ),
}


def _head(path: str) -> bytes:
    with open_input(path) as (stream, _size):
        data: bytes = stream.read(HEAD_BYTES + 1)
    return data.removeprefix(b"\xef\xbb\xbf")


def _document(head: bytes) -> Any:
    if len(head) > HEAD_BYTES or head.lstrip()[:1] != b"{":
        return None
    try:
        return orjson.loads(head)
    except orjson.JSONDecodeError:
        return None


def _snapshot(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    if "localEndpoints" in doc and isinstance(doc.get("service"), dict):
        return (
            "a kube-proxy healthCheckNodePort answer (one look, no time of its own), which no "
            "importer reads: `gapwatch probe` (or the recorder's kube-proxy source) asks it on "
            "every node and records each change with its time (docs/kubeproxy.md)"
        )
    if "lastUpdated" in doc and "currentTime" in doc:
        return (
            "a kube-proxy /healthz answer (one look), which no importer reads: the recorder's "
            "kube-proxy source asks it on every node and records each change (docs/kubeproxy.md)"
        )
    tencent = doc.get("Response")
    if isinstance(tencent, dict) and "RequestId" in tencent:  # API 3.0 wraps every answer so
        return (
            "a Tencent Cloud CLB API answer (a snapshot with no time of its own), which no "
            "importer reads: `gapwatch poll clb` polls it and records each change with its time "
            "(docs/lb.md)"
        )
    for key, (what, instead) in _LB_ANSWERS.items():
        if key in doc:
            return (
                f"{what} (a snapshot with no time of its own), which no importer reads: "
                f"{instead} (docs/lb.md, docs/importers.md)"
            )
    return None


def describe(path: str) -> str | None:
    """What `path` is and how to get its evidence into gapwatch, when it is a shape no importer
    reads but one an SRE saves; None for anything else."""
    head = _head(path)
    if _DESCRIBE.search(head) and _DESCRIBE_FIELD.search(head):
        return (
            "this is `kubectl describe` output, which no importer reads (its Events carry ages "
            "such as 6m44s, not times): `kubectl get events -o json` (or `kubectl get events "
            "--watch --output-watch-events -o json` during an incident) gives the Events with "
            "their times, and `kubectl get svc,endpointslices,pods,nodes -o json` the objects, "
            "for `gapwatch import k8s-watch`"
        )
    first = next((line for line in head.splitlines() if line.strip()), b"").lstrip()
    kinds = {m.group(1) for m in _YAML_KEY.finditer(head)}
    if first[:1] not in (b"{", b"[") and kinds == {b"apiVersion", b"kind"}:
        return (
            "this is YAML (`kubectl get -o yaml`); the importers read JSON: save it again with "
            "`-o json`, or convert it (`yq -o=json FILE` with mikefarah's yq 4), then "
            "`gapwatch import k8s-watch`"
        )
    found = _snapshot(_document(head))
    return f"this is {found}" if found else None
