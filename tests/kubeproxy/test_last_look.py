"""A target the prober stops probing (its Node deleted) keeps its last look: the prober stores
it (`look: "last"`) if it was not stored, once (recorder/sources/kubeproxy/tracker.py, `forget`).
17,000,089's shape on the real path: a node answering 503 (no local endpoint programmed) look
after look, stored once as a change, then deleted. Fake kube-proxies on loopback (the real HTTP
health port), a real store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.tracker import Look, TargetKey
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _node, _prober, _rows, _run, _view


def test_a_deleted_nodes_last_look_is_stored_once(engine: Engine) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        fakes.set_mode("node-2", "unhealthy")
        view = _view(fakes)
        prober = _prober(engine, view, fakes, proxy_healthz=False)
        looks: dict[TargetKey, list[Look]] = defaultdict(list)
        see = prober.tracker.see

        def spy(look: Look) -> Observation | None:
            looks[look.key].append(look)
            return see(look)

        prober.tracker.see = spy  # type: ignore[method-assign]  # a spy on every look

        def drop_node_2() -> bool:
            if prober.looks >= 12 and len(view.nodes()) == 2:
                view.observe("Node", "DELETED", _node("node-2", fakes.nodes[1].address))
                fakes.set_mode("node-2", "refuse")  # the machine gone: no look may store it
                prober.looks = 0
            return len(view.nodes()) == 1 and prober.looks >= 10

        asyncio.run(_run(prober, engine, drop_node_2))
        rows = [r for r in _rows(engine) if r.node == "node-2"]
        assert [(r.payload["look"], r.payload["status"]) for r in rows] == [
            ("first", 503),
            ("last", 503),
        ]
        (key,) = [k for k in looks if k.node == "node-2"]
        seen = looks[key]
        assert len(seen) >= 3  # looks between the first and the last were not stored
        first, last = rows
        # the last look itself (stamped when it began: a repeat, tracker.stamp), bounded by the
        # look before it (which saw the same 503)
        assert last.observed_at == seen[-1].started_at
        assert last.previous_observed_at == seen[-2].started_at
        assert last.payload["latency_ms"] == seen[-1].payload["latency_ms"]
        assert last.observed_at > first.observed_at

        # a restart without the node stores nothing more of it; with it back, the first look
        # resumes from the stored last look (its checkpoint), not from the first
        again = _prober(engine, view, fakes, proxy_healthz=False)
        asyncio.run(_run(again, engine, lambda: again.looks >= 6))
        assert [r.payload["look"] for r in _rows(engine) if r.node == "node-2"] == [
            "first",
            "last",
        ]
        fakes.set_mode("node-2", "unhealthy")
        view.observe("Node", "ADDED", _node("node-2", fakes.nodes[1].address))
        back = _prober(engine, view, fakes, proxy_healthz=False)
        asyncio.run(
            _run(back, engine, lambda: len([r for r in _rows(engine) if r.node == "node-2"]) >= 3)
        )
        resumed = [r for r in _rows(engine) if r.node == "node-2"][2]
        assert resumed.payload["look"] == "resume"
        assert resumed.previous_observed_at == last.observed_at
