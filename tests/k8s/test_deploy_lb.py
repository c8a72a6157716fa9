"""deploy/README.md's overlay for an AWS LB poller in the cluster (section "LB pollers"),
rendered as written: it validates offline, its record.yaml is the base's plus the `elbv2` source
(accepted as the recorder reads it), and it gives the recorder what the base does not and the
poller needs: egress on 443 to named addresses, `list` on the TargetGroupBindings the poller
lists (recorder/sources/lb/bindings.py), and the IRSA role. Nothing else changes."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from gapwatch.recorder.config import load_config
from gapwatch.recorder.sources.lb import bindings
from gapwatch.recorder.sources.lb.build import plan_elbv2
from tests.k8s.kustomize import kustomize
from tests.kubeproxy.test_deploy_components import _one, _split, _validate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MARKER = "# overlays/aws-lb/kustomization.yaml"


def _rendered(tmp_path: Path) -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", (DEPLOY / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if b.startswith(MARKER)]
    overlay = yaml.safe_load(block)
    mine = tmp_path / "overlays" / "aws-lb"
    mine.mkdir(parents=True)
    overlay["resources"] = [os.path.relpath(DEPLOY / "base", mine)]
    (mine / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return kustomize(mine)


def test_the_documented_aws_lb_overlay_gives_the_poller_what_it_needs(tmp_path: Path) -> None:
    docs = _rendered(tmp_path)
    _validate(docs)
    base = kustomize(DEPLOY / "base")
    config = _one(docs, "ConfigMap", "gapwatch-recorder")["data"]["record.yaml"]
    own, sources = _split(config)
    base_config = _one(base, "ConfigMap", "gapwatch-recorder")["data"]["record.yaml"]
    assert own == _split(base_config)[0]
    (tmp_path / "record.yaml").write_text(config)
    loaded = load_config(tmp_path / "record.yaml", {"GAPWATCH_CLUSTER": "c"})
    assert set(loaded.sources) == {"k8s", "elbv2"}
    plan_elbv2(sources["elbv2"])  # a configuration error raises here
    assert sources["elbv2"].get("target_group_bindings") is True

    egress = _one(docs, "NetworkPolicy", "gapwatch-recorder")["spec"]["egress"]
    before = _one(base, "NetworkPolicy", "gapwatch-recorder")["spec"]["egress"]
    assert egress[: len(before)] == before
    (added,) = egress[len(before) :]
    assert added["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert added["to"] and all("/" in peer["ipBlock"]["cidr"] for peer in added["to"])

    rules = _one(docs, "ClusterRole", "gapwatch-recorder")["rules"]
    base_rules = _one(base, "ClusterRole", "gapwatch-recorder")["rules"]
    assert rules[: len(base_rules)] == base_rules
    assert rules[len(base_rules) :] == [
        {"apiGroups": [bindings.GROUP], "resources": [bindings.PLURAL], "verbs": ["list"]}
    ]
    account = _one(docs, "ServiceAccount", "gapwatch-recorder")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    changed = {(d["kind"], d["metadata"]["name"]) for d in docs if d not in base}
    assert changed == {
        ("ConfigMap", "gapwatch-recorder"),
        ("NetworkPolicy", "gapwatch-recorder"),
        ("ClusterRole", "gapwatch-recorder"),
        ("ServiceAccount", "gapwatch-recorder"),
    }
