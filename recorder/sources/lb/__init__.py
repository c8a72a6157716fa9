"""Load-balancer sources: cloud API pollers (ELBv2, Alibaba SLB, Tencent CLB, Huawei ELB v3)
and the push API for every other LB or CCM.

Every poller has the same three layers:

- a cloud adapter (`elbv2`, `alibaba`, `tencent`, `huawei`): one blocking `poll()` that asks the
  cloud's official SDK for the group's members and their health and maps the answer to the shared
  shape of `shape` (ELBv2's TargetHealthDescription vocabulary, the cloud's own entry kept beside
  it);
- the pure `tracker`: turns successive looks into transitions with sampling bounds (ADDED /
  MODIFIED / DELETED on change, OBSERVED heartbeats, `previous_observed_at` = the look before);
- `poller.PollerSource`: the loop (clock read once per cycle, backoff on throttling, API calls per
  minute as a metric) behind the Source protocol of `recorder.sources.base`.

Errors (all `gapwatch.recorder.errors` subclasses)::

    SourceError
    ├── LbApiError        the cloud's API failed (not found, denied, unreachable)
    │   └── Throttled     ... it asked us to slow down: the poller backs off
    └── MissingExtra      the cloud's SDK is not installed (`pip install 'gapwatch[alibaba]'`,
                          or the recorder image's `--build-arg EXTRAS=alibaba`)
    ConfigError           a poller or push setting is wrong
"""

from __future__ import annotations
