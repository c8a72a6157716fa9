"""The recorder's sources: one sub-package per source, each behind the protocol in `base`.

`REGISTRY` maps a source's configuration key (a key under `sources:` in the recorder's YAML) to
the `module:function` that builds it. A source is imported only when it is configured, so
`gapwatch record` never loads what it does not run. Adding a source is one folder under
`recorder/sources/` and one line here (docs/architecture.md shows the Kubernetes source as the
example).
"""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    "k8s": "gapwatch.recorder.sources.k8s.source:build",
    "kube-proxy": "gapwatch.recorder.sources.kubeproxy.source:build",
    "elbv2": "gapwatch.recorder.sources.lb.build:build_elbv2",
    "alibaba-slb": "gapwatch.recorder.sources.lb.build:build_alibaba",
    "tencent-clb": "gapwatch.recorder.sources.lb.build:build_tencent",
    "huawei-elb": "gapwatch.recorder.sources.lb.build:build_huawei",
    "push": "gapwatch.recorder.sources.lb.push:build",
}
