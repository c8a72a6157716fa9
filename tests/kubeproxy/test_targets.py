"""What gets probed, from Services and Nodes (pure)."""

from __future__ import annotations

from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings
from gapwatch.recorder.sources.kubeproxy.targets import metrics_targets, plan
from gapwatch.recorder.sources.view import NodeInfo, ServiceInfo

GW = ServiceInfo("istio-system", "gw", "Local", 31805, (32080, 32443))
NO_HC = ServiceInfo("default", "tcp", "Local", None, (30007,))
CLUSTER = ServiceInfo("default", "web", "Cluster", None, (30008,))
NODES = [
    NodeInfo("n1", (("Hostname", "n1"), ("ExternalIP", "203.0.113.1"), ("InternalIP", "10.0.0.1"))),
    NodeInfo("n2", (("ExternalIP", "203.0.113.2"),)),
    NodeInfo("n3", (("Hostname", "n3"),)),  # no address: cannot be probed
]


def _described(settings: ProberSettings) -> list[tuple[str, str, str | None, str]]:
    return [
        (
            t.key.kind,
            t.key.node,
            t.key.name,
            t.url if t.how == "http" else f"tcp {t.address}:{t.port}",
        )
        for t in plan([GW, NO_HC, CLUSTER], NODES, settings)
    ]


def test_health_port_where_there_is_one_nodeport_where_not() -> None:
    got = _described(ProberSettings(proxy_healthz=False))
    assert got == [
        ("NodePortProbe", "n1", "tcp", "tcp 10.0.0.1:30007"),
        ("NodePortProbe", "n2", "tcp", "tcp 203.0.113.2:30007"),
        ("ProxyHealth", "n1", "gw", "http://10.0.0.1:31805/healthz"),
        ("ProxyHealth", "n2", "gw", "http://203.0.113.2:31805/healthz"),
    ]
    always = _described(ProberSettings(proxy_healthz=False, nodeport="always"))
    assert ("NodePortProbe", "n1", "gw", "tcp 10.0.0.1:32080") in always
    assert not [t for t in _described(ProberSettings(nodeport="never")) if t[0] == "NodePortProbe"]


def test_node_health_paths_and_metrics() -> None:
    got = [t for t in _described(ProberSettings()) if t[0] == "ProxyNodeHealth" and t[1] == "n1"]
    assert [t[3] for t in got] == ["http://10.0.0.1:10256/healthz", "http://10.0.0.1:10256/livez"]
    assert metrics_targets(NODES, ProberSettings()) == []
    scrape = metrics_targets(NODES, ProberSettings(metrics_interval_s=15))
    assert [t.url for t in scrape] == [
        "http://10.0.0.1:10249/metrics",
        "http://203.0.113.2:10249/metrics",
    ]


def test_node_agent_probes_its_own_node_through_loopback_without_a_node_object() -> None:
    agent = ProberSettings(address_override="127.0.0.1", only_node="n2", proxy_healthz=False)
    assert _described(agent) == [
        ("NodePortProbe", "n2", "tcp", "tcp 127.0.0.1:30007"),
        ("ProxyHealth", "n2", "gw", "http://127.0.0.1:31805/healthz"),
    ]
    alone = plan([GW], [], agent)
    assert [(t.key.node, t.url) for t in alone] == [("n2", "http://127.0.0.1:31805/healthz")]
    ipv6 = plan(
        [GW], [NodeInfo("v6", (("InternalIP", "fd00::1"),))], ProberSettings(proxy_healthz=False)
    )
    assert ipv6[0].url == "http://[fd00::1]:31805/healthz"
