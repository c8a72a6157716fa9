"""Which node a target is: by instance id (the Node's `spec.providerID`) or by IP
(`status.addresses`).

providerIDs end in the cloud's instance id after a `/` (AWS `aws:///us-east-1a/i-0abc`, Tencent
`qcloud:///800002/ins-xxxx`, Huawei `huaweicloud://.../<server id>`) or a `.` (Alibaba
`cn-hangzhou.i-bp1...`). A target nothing matches keeps its id and is written with no node: an
unmapped target is still evidence (it may be a node the recorder has not seen yet).

`nodes_from_store` reads the newest Node objects of a cluster from the event log, for `gapwatch
poll` on a laptop and for a recorder that runs no Kubernetes source (its ClusterView stays empty).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Engine, text

from gapwatch.recorder.sources.lb.shape import Target
from gapwatch.recorder.sources.view import NodeInfo, node_info
from gapwatch.recorder.store import translate_errors


def _instance_id(provider_id: str) -> str:
    tail = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return tail.rsplit(".", 1)[-1] if "." in tail and not _looks_like_ip(tail) else tail


def _looks_like_ip(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


class NodeMap:
    """Target -> node name, built from the Nodes known now."""

    def __init__(self, nodes: Iterable[NodeInfo]) -> None:
        self._by_id: dict[str, str] = {}
        self._by_ip: dict[str, str] = {}
        for node in nodes:
            if node.provider_id:
                self._by_id[_instance_id(node.provider_id)] = node.name
                self._by_id[node.provider_id] = node.name
            for _typ, address in node.addresses:
                self._by_ip.setdefault(address, node.name)

    def __len__(self) -> int:
        return len(set(self._by_id.values()) | set(self._by_ip.values()))

    def node_of(self, target: Target) -> str | None:
        """The node behind a target, or None when no known Node matches."""
        node = self._by_id.get(target.id) or self._by_ip.get(target.id)
        if node is None and target.ip is not None:
            node = self._by_ip.get(target.ip)
        return node


_NODES = text(
    "SELECT name, op, payload FROM events WHERE kind = 'Node' AND cluster = :cluster ORDER BY id"
)


def nodes_from_store(engine: Engine, cluster: str) -> list[NodeInfo]:
    """The newest version of every Node of `cluster` in the event log (deleted ones left out)."""
    latest: dict[str, Any] = {}
    with translate_errors(engine), engine.connect() as conn:
        for name, op, payload in conn.execute(_NODES, {"cluster": cluster}):
            if op == "DELETED":
                latest.pop(name, None)
            else:
                latest[name] = (
                    orjson.loads(payload) if isinstance(payload, str | bytes) else payload
                )
    return [node_info(obj) for _name, obj in sorted(latest.items())]


#: How long the Node objects read from the store are trusted (s).
NODES_TTL_S = 30.0


class StoreNodes:
    """The store's Nodes of one cluster, re-read at most every NODES_TTL_S (a callable)."""

    def __init__(self, engine: Engine, cluster: str) -> None:
        self.engine, self.cluster = engine, cluster
        self._nodes: list[NodeInfo] = []
        self._read_at: float | None = None

    def __call__(self) -> list[NodeInfo]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at > NODES_TTL_S:
            self._nodes, self._read_at = nodes_from_store(self.engine, self.cluster), now
        return self._nodes
