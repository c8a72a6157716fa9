"""moto's ELBv2 server and its health-rewriting proxy moved into the package
(gapwatch.recorder.lab.fakes.fakeelb) so that `gapwatch lab` can serve them."""

from gapwatch.recorder.lab.fakes.fakeelb import LOOP_MARKER, THROTTLE_XML, HealthProxy, moto_server

__all__ = ["LOOP_MARKER", "THROTTLE_XML", "HealthProxy", "moto_server"]
