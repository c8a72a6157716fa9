"""The Kubernetes source: reflector-grade watches into the event log (docs/recorder.md).

Modules, bottom up: resources (kinds, paths, object -> Observation), noop (no-op filter and stored
projection), state (known versions, relist diff), client (API endpoint), stream (one HTTP
request), watcher (list-then-watch, reconnect loop), scope (what concerns Local Services),
storeio (checkpoints and last state), metrics (watch counters), config (its settings), source
(the `Source` the recorder runs; `build` is its REGISTRY entry). The spool, the run loop, health
and the shared metrics are the recorder's (recorder/spool.py, run.py, health.py, metrics.py).
"""
