"""kube-proxy's proxier health, as its health servers compute it
(pkg/proxy/healthcheck/proxier_health.go, proxy_health.go in later releases).

- `QueuedUpdate()` runs when kube-proxy receives a Service or EndpointSlice change (once its
  informers have synced: the first sync after start is no queued update) and keeps only the
  OLDEST pending time; `Updated()` at the end of every successful rules sync clears it.
- healthy unless a change is pending and `now - oldestPendingQueued >= healthTimeout`: the rule
  looks at the oldest change not yet programmed, not at the age of the last sync (a kube-proxy
  that last synced an hour ago and got a change a second ago is healthy; since
  kubernetes/kubernetes#83498, v1.17).
- from v1.29 (kubernetes/kubernetes#118146, per IP family) a proxier that never synced since
  start is not looked at: healthy; before, its pending change counts like any other.
- `healthTimeout` = 2 x kube-proxy's sync period (cmd/kube-proxy/app/server.go:
  `NewProxierHealthServer(config.HealthzBindAddress, 2*config.IPTables.SyncPeriod.Duration, ...)`),
  whose default is 30 s (pkg/proxy/apis/config/v1alpha1/defaults.go): 60 s.

Who reads it: `/healthz` and `/livez` on port 10256 (503 when unhealthy; `/healthz` also when the
node is not eligible, KEP-3836) and, from v1.27 (kubernetes/kubernetes#111661, CHANGELOG-1.27),
the per-Service healthCheckNodePort: 503 unless it counts local endpoints AND kube-proxy is
healthy, the body's `serviceProxyHealthy`. Pure: the simulator's kube-proxy (recorder.sim.kubeproxy)
calls these.
"""

from __future__ import annotations

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.sim.validate import minor_version

#: healthTimeout in sync periods (cmd/kube-proxy/app/server.go: `2*config...SyncPeriod`)
HEALTH_TIMEOUT_SYNC_PERIODS = 2
#: the first release whose healthCheckNodePort answers by kube-proxy's health too (#111661)
SERVICE_PROXY_HEALTHY_FROM = 27
#: the first release that ignores a proxier that never synced (#118146, per IP family)
PER_FAMILY_FROM = 29


def health_timeout_us(sync_period_s: float) -> int:
    """kube-proxy's healthTimeout for its sync period (microseconds)."""
    return HEALTH_TIMEOUT_SYNC_PERIODS * us(sync_period_s)


def proxier_healthy(
    oldest_pending_us: int | None,
    now_us: int,
    timeout_us: int,
    *,
    synced_since_start: bool,
    per_family: bool,
) -> bool:
    """isHealthy(): healthy unless the oldest change queued since the last sync is at least
    `timeout_us` old (a proxier that never synced is ignored from v1.29: `per_family`)."""
    if oldest_pending_us is None:
        return True
    if per_family and not synced_since_start:
        return True
    return now_us - oldest_pending_us < timeout_us


def kube_proxy_minor(s: Scenario) -> int:
    """The kube-proxy's minor version (the kubelet's when no kube-proxy version is set)."""
    return minor_version(s.nodes.kube_proxy_version or s.nodes.kubelet_version) or 0


def service_check_reads_health(s: Scenario) -> bool:
    """Does the healthCheckNodePort answer 503 while kube-proxy is unhealthy (v1.27+)?"""
    return kube_proxy_minor(s) >= SERVICE_PROXY_HEALTHY_FROM


def ignores_never_synced(s: Scenario) -> bool:
    """Is a proxier that never synced since start healthy whatever is queued (v1.29+)?"""
    return kube_proxy_minor(s) >= PER_FAMILY_FROM
