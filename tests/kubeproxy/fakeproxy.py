"""The fake kube-proxies moved into the package (gapwatch.recorder.lab.fakes.fakeproxy) so that
`gapwatch lab` can serve them; the tests keep importing them from here."""

from pathlib import Path
from typing import Any

from gapwatch.recorder.lab.fakes.fakeproxy import MODES, FakeKubeProxies, FakeNode, free_port

#: The tests' own kube-proxy samples (the package carries only the two its fakes serve).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeproxy"

__all__ = ["FIXTURES", "MODES", "FakeKubeProxies", "FakeNode", "free_port", "local_service"]


def local_service(fakes: FakeKubeProxies) -> dict[str, Any]:
    """The LoadBalancer Service default/nginx (externalTrafficPolicy Local) the fakes serve:
    its health-check node port and NodePort are theirs."""
    return {
        "metadata": {"namespace": "default", "name": "nginx"},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": fakes.health_port,
            "ports": [{"port": 80, "nodePort": fakes.node_port}],
        },
    }
