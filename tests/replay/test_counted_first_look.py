"""A dead pod the health check counted at its first look after the death, F read from the
health check alone. The prober looks at a target on a fixed period and stores a look only when
its answer changed (docs/kubeproxy.md), so a run of one stored answer was seen at every look
from its first to its last, and the largest gap between two looks the store names bounds how
soon after an instant the next look came (replay.proxy.probe_period). Rule F
(replay.counted) reads the count at the run's first look at or after the death's latest
instant: a replacement that turned ready only later cannot be the one counted there, whatever
the run's last look counted (docs/semantics.md, "Classes without the NodePort probes, the
twentieth spent set"). Literal observations shaped like random 33,000,072 node-003 without
NodePort probes (kube-proxy 1.24, the gate off, as its /configz states); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, PGBD
from tests.replay import builders as b

#: the Service's healthCheckNodePort: a node-driven LB checks it (replay.policy)
_PORT = 31805


def _observations(ready: float) -> list[Observation]:
    """kube-proxy 1.24 on two nodes, ProxyTerminatingEndpoints off by their /configz, the
    health check every half second, the LB polled every second and routing to both nodes
    throughout. n2 serves q1 throughout. On n1, p1 is deleted at 10 s (listed
    serving-terminating at 10.1 s) and its container stops at 12 s (finishedAt, seen at
    12.3 s, unlisted at 12.4 s); p2, created at 10.2 s, is ready at `ready` s and listed ready
    0.1 s later. kube-proxy, slow, counts one ready local endpoint until its look at 24.5 s,
    none at 25 s, one again from 30 s."""
    every = [k / 2 + 0.001 for k in range(2, 100)]
    polls = [float(k) for k in range(1, 50)]
    return [
        b.service(0),
        *[b.node(0, name, version="v1.24.17") for name in ("n1", "n2")],
        *[b.proxy_config(0.5, name, {"ProxyTerminatingEndpoints": False}) for name in ("n1", "n2")],
        *b.health_looks("n2", every, lambda t: 1),
        *b.health_looks("n1", every, lambda t: 0 if 25 <= t < 30 else 1),
        b.pod(0.2, "q1", "n2", "ready"),
        b.pod(0.3, "p1", "n1", "ready"),
        b.eps(0.5, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
        *b.polled_healthy("n1", polls, _PORT),
        *b.polled_healthy("n2", polls, _PORT),
        b.pod(9.99, "p1", "n1", "terminating", deleted_at=10),
        b.eps(10.1, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.pod(10.2, "p2", "n1", "pending"),
        b.pod(12.3, "p1", "n1", "gone", deleted_at=10, finished=12),
        b.eps(12.4, [("q1", "n2", "ready")]),
        b.pod(ready, "p2", "n1", "ready"),
        b.eps(ready + 0.1, [("q1", "n2", "ready"), ("p2", "n1", "ready")]),
    ]


def _at_death(ready: float) -> Window:
    """n1's window that holds p1's death at 12 s."""
    at = to_micros(b.at(13))
    (window,) = [
        w
        for w in b.windows_of(_observations(ready))
        if w.node == "n1" and w.start_earliest_us <= at <= w.end_latest_us
    ]
    return window


def test_a_death_counted_before_the_replacement_was_ready_is_decided() -> None:
    # p1 died by 13 s (finishedAt 12 s, the node's clock); the looks from then on counted one
    # ready local endpoint, and p2 turned ready only at 15 s: the count at the first look after
    # the death was p1's, kube-proxy still forwarded to it. On main: read as kube-proxy's close
    # (the slice's loss of p1's ready endpoint at 10.1 s), the run's last look at 24.5 s counting
    # one with p2 ready by then
    window = _at_death(ready=15)
    assert window.cls == PGBD
    assert CBD not in window.also


def test_a_replacement_ready_by_the_death_may_be_the_one_counted() -> None:
    # p2 ready at 11 s, before p1's death: kube-proxy may have counted p2 (programmed) and
    # dropped p1 at the same sync, so the count proves nothing and the close stays possible
    window = _at_death(ready=11)
    assert window.cls != PGBD or CBD in window.also
