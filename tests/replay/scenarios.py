"""Two literal race scenarios on one node (seed scenarios 1 and 2), measured by every source."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import eps, node, nodeport, pod, service, target


def seed_races(version: str = "v1.25.4") -> list[Observation]:
    """Registered-before-forwarding at 10..13 s, closed-before-deregistered at 50..55 s."""
    return [
        service(0),
        node(0, "n1", version=version),
        nodeport(1, None, "n1", "timeout"),
        pod(9, "p1", "n1", "pending"),
        pod(10, "p1", "n1", "ready"),
        eps(10, [("p1", "n1", "ready")]),
        target(11, 10, "n1", "healthy", "ADDED"),
        nodeport(13, 12.9, "n1", "connected"),
        pod(50, "p1", "n1", "terminating", deleted_at=50),
        eps(50, [("p1", "n1", "terminating")]),
        nodeport(50.5, 50.4, "n1", "timeout"),
        target(55, 54, "n1", "draining"),
        pod(80, "p1", "n1", "gone", deleted_at=50),
        eps(80, []),
        target(90, 89, "n1", "absent", "DELETED"),
    ]
