"""The Kubernetes recorder: reflector-grade watches into the event log (docs/recorder.md).

Modules, bottom up: resources (kinds, paths, object -> Observation), noop (no-op filter and stored
projection), state (known versions, relist diff), client (API endpoint), stream (one HTTP
request), watcher (list-then-watch, reconnect loop), scope (what concerns Local Services), spool
(bounded queue -> EventWriter), storeio (checkpoints and last state), metrics, health, config, cli.
"""
