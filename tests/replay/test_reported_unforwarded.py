"""A terminating pod's death that its kubelet reported (finishedAt) inside a window's start range,
the update saying so seen only after that range, while the node had a ready endpoint listed:
kube-proxy forwards to a terminating endpoint only while it knows no ready one (with
ProxyTerminatingEndpoints), and not at all once it synced the termination without the gate
(KEP-1669: the design notes, section 6), so the death took traffic only if kube-proxy had not
yet acted on either, which the log does not order. The reading without that death stays named,
as for a death seen inside the range (replay.detect._unforwarded). Literal observations shaped
like random 26,000,623 node-002 without NodePort probes (docs/semantics.md, "Classes on the
thirteenth spent set (session 30)"); times in seconds."""

from __future__ import annotations

from gapwatch.replay.undecided import PGBD, RBF
from tests.replay.builders import eps, health_looks, node, pod, service, target, windows_of

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999


def test_a_late_reported_death_beside_a_ready_replacement_names_the_listing() -> None:
    # kube-proxy 1.25 (its gate off by default), no NodePort probe (the recorder's default for
    # a LoadBalancer Service), the health check every second, an endpoint-driven LB polled
    # every 10 s and routing throughout. p1 deleted at 5.3 s and listed serving-terminating;
    # its replacement p2 ready at 7.9 s and listed ready at 8.1 s; the health check counts a
    # ready endpoint until 8 s, none from 9 s to 16 s. p1's kubelet wrote finishedAt 10 s
    # (whole seconds), seen at 12.9 s: it may have died by 9 s, the 503's start range being
    # (8, 9] s. Either kube-proxy still forwarded to p1 when it died (its rules met the dead
    # pod), or it had already dropped p1 (the termination synced, the gate off) with p2 listed
    # and not yet programmed: nothing in the log orders the two
    looks = [k + 0.001 for k in range(2, 30)]
    obs = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", check_port=_PORT),
        *[target(t, t - 10, "n1", "healthy", check_port=_PORT) for t in (11, 21, 31)],
        *health_looks("n1", looks, lambda t: 0 if 9 <= t < 17 else 1),
        eps(5.33, [("p1", "n1", "terminating")]),
        pod(5.37, "p1", "n1", "terminating", deleted_at=5, grace=10),
        pod(5.8, "p2", "n1", "pending"),
        eps(6.8, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
        pod(7.9, "p2", "n1", "ready"),
        eps(8.12, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        eps(12.26, [("p1", "n1", "stopped"), ("p2", "n1", "ready")]),
        pod(12.89, "p1", "n1", "gone", deleted_at=5, grace=10, finished=10),
        eps(14.43, [("p2", "n1", "ready")]),
    ]
    (window,) = [w for w in windows_of(obs) if w.start_latest_us > 0]
    assert window.cls == PGBD
    assert RBF in window.also
