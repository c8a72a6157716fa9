"""`gapwatch lab` on the huawei load balancer's fake (recorder/lab/fakes/fakeclouds.py: the API's
request and answer shapes and signature checks over real HTTP; no real cloud can run here),
recorded by real `gapwatch record` processes into the session's real PostgreSQL:
tests/lab/cloudrun.py's tests."""

from tests.lab.cloudrun import *  # noqa: F403 (its tests and pytestmark)

CLOUD = "huawei"
LAB_ARGS = ("lab", "--faults", f"lb-{CLOUD}")
