"""moto's ELBv2 server and its health-rewriting proxy moved into the package
(gapwatch.recorder.lab.fakes.fakeelb) so that `gapwatch lab` can serve them."""

from gapwatch.recorder.lab.fakes.fakeelb import THROTTLE_XML, HealthProxy, moto_server

__all__ = ["THROTTLE_XML", "HealthProxy", "moto_server"]
