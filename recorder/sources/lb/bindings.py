"""Target groups from the AWS Load Balancer Controller's `TargetGroupBinding` objects.

A TargetGroupBinding (`elbv2.k8s.aws/v1beta1`) names a target group (`spec.targetGroupARN`) and
the Service whose endpoints the controller registers in it (`spec.serviceRef.name`, in the
binding's namespace): exactly the (target group, Service) pairs the ELBv2 poller needs. They are
listed through the Kubernetes API with the `kubernetes` client (in-cluster service account first,
else a kubeconfig, or a plain URL such as `kubectl proxy`'s), a blocking call the poller makes in
its worker thread when it rediscovers its target groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gapwatch.recorder.sources.k8s.client import load_configuration
from gapwatch.recorder.sources.lb.elbv2 import TargetGroupRef
from gapwatch.recorder.sources.lb.shape import LbApiError
from gapwatch.recorder.sources.lb.tracker import ServiceKey

GROUP, VERSION, PLURAL = "elbv2.k8s.aws", "v1beta1", "targetgroupbindings"


def refs_from_bindings(items: Iterable[Mapping[str, Any]]) -> list[TargetGroupRef]:
    """(target group, Service) of every binding that names both (pure)."""
    refs: dict[str, TargetGroupRef] = {}
    for item in items:
        meta, spec = item.get("metadata") or {}, item.get("spec") or {}
        arn, service = spec.get("targetGroupARN"), (spec.get("serviceRef") or {}).get("name")
        if isinstance(arn, str) and arn:
            key = ServiceKey(meta.get("namespace"), service) if service else ServiceKey()
            refs[arn] = TargetGroupRef(arn, key)
    return [refs[a] for a in sorted(refs)]


class BindingLister:
    """Lists every TargetGroupBinding in the cluster (blocking)."""

    def __init__(self, *, api_server: str | None = None, kubeconfig: str | None = None) -> None:
        from kubernetes import client

        if api_server is not None:
            cfg = client.Configuration()
            cfg.host = api_server.rstrip("/")
        else:
            cfg = load_configuration(
                kubeconfig=kubeconfig,
                fail=lambda why: LbApiError(
                    f"TargetGroupBindings: no Kubernetes configuration: {why}"
                ),
            )
        self._api: Any = client.CustomObjectsApi(client.ApiClient(cfg))

    def __call__(self) -> list[TargetGroupRef]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            answer = self._api.list_cluster_custom_object(
                GROUP, VERSION, PLURAL, _request_timeout=(5, 30)
            )
        except (ApiException, HTTPError) as exc:
            raise LbApiError(f"TargetGroupBindings: {exc}") from exc
        return refs_from_bindings(answer.get("items") or [])
