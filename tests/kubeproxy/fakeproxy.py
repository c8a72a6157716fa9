"""The fake kube-proxies moved into the package (gapwatch.recorder.lab.fakes.fakeproxy) so that
`gapwatch lab` can serve them; the tests keep importing them from here."""

from pathlib import Path

from gapwatch.recorder.lab.fakes.fakeproxy import MODES, FakeKubeProxies, FakeNode, free_port

#: The tests' own kube-proxy samples (the package carries only the two its fakes serve).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubeproxy"

__all__ = ["FIXTURES", "MODES", "FakeKubeProxies", "FakeNode", "free_port"]
