"""kube-proxy's lag bound from the sync period its own `/configz` states. Pure.

The `proxy_lag_max_s` assumption (60 s) is kube-proxy's health timeout at its default sync
period: the health server is built with `2 x syncPeriod` (cmd/kube-proxy/app/server.go,
`NewProxierHealthServer(..., 2*config.IPTables.SyncPeriod.Duration)`, the top-level
`config.SyncPeriod` in later releases) and, since kubernetes/kubernetes#83498 (v1.17), reports
unhealthy once the oldest change not yet programmed is that old (`/healthz`, and from v1.27
the healthCheckNodePort's `serviceProxyHealthy`, kubernetes#111661). A change that waits longer
makes kube-proxy say it is stuck. Since kubernetes#81517 (v1.17) the iptables proxier no longer
re-syncs every syncPeriod (it syncs on changes, at least minSyncPeriod apart, with a full
resync at most hourly): the period sets the health timeout, not how often rules are written.

So where every node of a Service stated its period (a `ProxyConfig` observation:
recorder/sources/kubeproxy/configz.py), the bound is 2 x the largest period they stated, a
measurement from the log; where a node stated none, the assumption. A restart that brought
another period is stored at the next `/configz` read (`configz_interval_s`), so the largest of
every stored answer covers the recorded span but for a change read after the recording ended.
The probes' measured lags still replace the bound where there are enough of them
(replay.proxy `proxy_lag_hi`)."""

from __future__ import annotations

from gapwatch.replay.assumptions import US, DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState
from gapwatch.replay.measure import Measured
from gapwatch.replay.model import ServiceRef

#: kube-proxy's health timeout in sync periods (server.go: `2*...SyncPeriod`)
HEALTH_TIMEOUT_PERIODS = 2
NAME = "proxy_lag_max_s"


def node_period_us(state: FoldState, cluster: str, node: str) -> int | None:
    """The largest sync period `node`'s /configz answers state (us); None where none was stored
    or one of them states none."""
    looks = state.proxy_confs.get((cluster, node), ())
    periods = [look.sync_us for look in looks]
    if not periods or any(p is None for p in periods):
        return None
    return max(p for p in periods if p is not None)


def stated_periods(state: FoldState, svc: ServiceRef) -> dict[str, int | None]:
    """Each node of the Service -> the sync period its kube-proxy stated (us; None: none)."""
    nodes = sorted(state.service_nodes.get(svc, ()))
    return {node: node_period_us(state, svc.cluster, node) for node in nodes}


def stated_bound_us(state: FoldState, svc: ServiceRef) -> int | None:
    """2 x the largest sync period the Service's nodes stated, where every node stated one;
    None: the assumption holds (module docstring)."""
    periods = stated_periods(state, svc)
    if not periods or any(p is None for p in periods.values()):
        return None
    return HEALTH_TIMEOUT_PERIODS * max(p for p in periods.values() if p is not None)


def assumed_bound_us(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """The lag bound where the probes measured too few lags: stated, else the assumption."""
    stated = stated_bound_us(state, svc)
    return stated if stated is not None else seconds_us(settings.proxy_lag_max_s)


def lag_bound_reading(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> Measured:
    """The bound as `gapwatch assumptions` prints it: measured from the nodes' stated sync
    periods (`samples`: the /configz answers it rests on), else the assumption and why."""
    periods = stated_periods(state, svc)
    bound = stated_bound_us(state, svc)
    if bound is not None:
        answers = sum(len(state.proxy_confs.get((svc.cluster, n), ())) for n in periods)
        top = max(p for p in periods.values() if p is not None) / US
        source = (
            f"2 x syncPeriod {top:g} s stated by kube-proxy's /configz on "
            f"{len(periods)} node{'s' * (len(periods) != 1)} (its health timeout)"
        )
        return Measured(NAME, bound / US, answers, source)
    unstated = [n for n, p in periods.items() if p is None]
    why = (
        f"no /configz sync period on {len(unstated)} of {len(periods)} nodes"
        if periods
        else "no node"
    )
    source = f"2 x kube-proxy's default syncPeriod 30 s; {why}"
    return Measured(NAME, settings.proxy_lag_max_s, 0, source)
