"""Which /configz looks become `ProxyConfig` observations: changes only. Pure but for the store
read a restart makes (`load_stored`).

kube-proxy's configuration is fixed for the life of its process (it exits when its config file
changes: cmd/kube-proxy/app's file watcher), so a node's configuration is stored when the prober
first reads it (`look: "first"`) and again only when the kept part (configz.py) differs from
the last stored one (`look: "change"`, `previous_observed_at` the start of the last look that
read the old one in this process). Each stored one goes with a checkpoint (`configz:NODE`): a
restarted prober compares with it and stores nothing when it is the same, however old.

A node whose /configz never answered with a configuration (refused: kube-proxy's metrics
address is 127.0.0.1 by default, reachable only from the node itself, i.e. the node agent; a
404; a body that is not kube-proxy's configuration, or too large) is looked at no more in this
process (`turned_off`), said once in the log by the caller. Once one look answered, a later
failure (kube-proxy restarting) is only skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation, canonical_json
from gapwatch.recorder.sources.kubeproxy.laststate import checkpoint_value
from gapwatch.recorder.sources.kubeproxy.tracker import SOURCE
from gapwatch.recorder.timefmt import format_time, parse_time
from gapwatch.recorder.writer import Checkpoint

KIND = "ProxyConfig"
CHECKPOINT_PREFIX = "configz:"


def state_of(payload: Mapping[str, Any]) -> str | None:
    """The kept configuration of an answer (canonical JSON), None when it gave none."""
    if payload.get("error") is not None or payload.get("status") != 200:
        return None
    gates = payload.get("feature_gates")
    if not isinstance(gates, Mapping):
        return None
    return canonical_json([gates, payload.get("mode")])


def why_not(payload: Mapping[str, Any]) -> str:
    """What a look that gave no configuration got, in a few words (for the log)."""
    if payload.get("error") is not None:
        detail = payload.get("detail")
        return f"{payload['error']}" + (f" ({detail})" if detail else "")
    if payload.get("status") != 200:
        return f"HTTP {payload.get('status')}"
    return str(payload.get("detail") or "not kube-proxy's configuration")


def load_stored(engine: Engine, *, cluster: str, node: str) -> tuple[str, datetime] | None:
    """The configuration last stored for `node` (its checkpoint: one key lookup) and when."""
    value = checkpoint_value(engine, cluster=cluster, key=CHECKPOINT_PREFIX + node)
    if not isinstance(value, Mapping) or not isinstance(value.get("state"), str):
        return None
    try:
        return value["state"], parse_time(str(value["observed_at"]))
    except (KeyError, ValueError):
        return None


@dataclass(slots=True)
class ConfigLooks:
    """Per node: the configuration last stored and the start of the last look that read it."""

    cluster: str
    stored: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    looked: dict[str, datetime] = field(default_factory=dict)
    #: nodes whose /configz answered with a configuration at least once in this process
    answered: set[str] = field(default_factory=set)

    def loaded(self, node: str) -> bool:
        return node in self.stored or node in self.answered

    def seed(self, node: str, stored: tuple[str, datetime] | None) -> None:
        """What the store holds for `node` (`load_stored`), before its first answer."""
        if stored is not None:
            self.stored[node] = stored

    def see(
        self, node: str, started: datetime, finished: datetime, payload: Mapping[str, Any]
    ) -> tuple[Observation | None, bool]:
        """(the observation to store, if any; whether to stop looking at `node`)."""
        state = state_of(payload)
        if state is None:
            return None, node not in self.answered
        first = node not in self.answered
        self.answered.add(node)
        known = self.stored.get(node)
        previous = self.looked.get(node)
        self.looked[node] = started
        if known is not None and known[0] == state:
            return None, False
        look = "first" if known is None else "change"
        observation = Observation(
            observed_at=finished,
            cluster=self.cluster,
            source=SOURCE,
            kind=KIND,
            op="OBSERVED",
            payload={**payload, "look": look},
            node=node,
            previous_observed_at=None if first else previous,
        )
        self.stored[node] = (state, finished)
        return observation, False

    def checkpoint(self, observation: Observation) -> Checkpoint:
        """The checkpoint stored with `observation`: a restart compares with it."""
        state = state_of(observation.payload)
        value = {"state": state, "observed_at": format_time(observation.observed_at)}
        key = CHECKPOINT_PREFIX + str(observation.node)
        return Checkpoint(self.cluster, SOURCE, key, value, at=observation.observed_at)
