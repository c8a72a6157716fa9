"""The kube-proxy prober: the data plane of every `externalTrafficPolicy: Local` Service, measured.

For each LB-facing Local Service and each node it looks, on a jittered schedule, at

- the Service's `healthCheckNodePort` (HTTP GET: status, body, the
  `X-Load-Balancing-Endpoint-Weight` header, latency; no answer is `refused`, `timeout` or
  `reset`): kind `ProxyHealth`;
- a NodePort TCP connect where the Service has no health-check port (optionally in addition):
  kind `NodePortProbe`;
- kube-proxy's own `/healthz` and `/livez` on port 10256: kind `ProxyNodeHealth`;
- optionally kube-proxy's `/metrics` (programming lag, staleness): kind `ProxyMetrics`;

and stores transitions, not samples (`tracker`), plus a heartbeat. docs/observation.md documents
every field. Modules: `settings` (defaults and their sources), `schedule` (when to look),
`client` (one shared aiohttp session, error classification), `tracker` (pure: looks in,
observations out), `metrics` (the Prometheus text parser), `laststate` (resume without inventing
transitions), `targets` (what to probe, from the ClusterView), `source` (the Source), `cli`
(`gapwatch probe`).

Errors: configuration problems raise `recorder.errors.ConfigError`; a failed look is data (an
observation with `error` set), never an exception.
"""
