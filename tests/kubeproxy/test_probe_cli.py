"""`gapwatch probe`, a real subprocess, against fake kube-proxies on loopback (fakeproxy.py says
why a fake and what it copies). The scripted switches (200 -> 503, 503 -> 200, refused, timeout,
reset) must come back as exactly those transitions, each with the true switch time inside its
recorded bounds, and the bounds no wider than one interval plus the probe timeout."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import parse_time
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import ProbeProcess, db_upgrade, random_loopback_base

#: A look at a healthy fake timed out at 0.3 s on CI once (session 28: node-3's "healthy" step
#: stored timeout, 200 between its real changes), so the timeout leaves a loaded machine room.
INTERVAL, TIMEOUT = 1.0, 0.8
#: What one look may add beyond interval + timeout on a shared, busy 2-core machine: the event
#: loop waking late for the look's tick (the bound is structural, the wake-up is not).
LOOP_SLACK_S = 0.25


def _state(payload: dict[str, Any]) -> str:
    return str(payload["status"]) if payload["status"] is not None else payload["error"]


def _changes(seen: list[dict[str, Any]], node: str) -> list[dict[str, Any]]:
    return [
        o
        for o in seen
        if o["kind"] == "ProxyHealth" and o["node"] == node and o["payload"]["look"] == "change"
    ]


def test_scripted_switches_come_back_as_bounded_transitions(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'probe.db'}"
    db_upgrade(db)
    script = {
        "node-1": ["unhealthy", "healthy", "reset", "healthy"],
        "node-2": ["refuse", "healthy", "unhealthy", "healthy"],
        "node-3": ["hang", "healthy", "refuse", "healthy"],
    }
    expect = {"healthy": "200", "unhealthy": "503", "refuse": "refused", "hang": "timeout"}
    expect["reset"] = "reset"
    switched: dict[str, list[tuple[float, float]]] = {n: [] for n in script}
    with FakeKubeProxies(3, base=random_loopback_base()) as fakes:
        proc = ProbeProcess(
            fakes, db, "--interval", str(INTERVAL), "--timeout", str(TIMEOUT), "--duration", "60"
        )
        proc.wait_for(3)  # every node's first look is in
        for step in range(4):
            time.sleep(4 * INTERVAL)
            for node, modes in script.items():
                switched[node].append(fakes.set_mode(node, modes[step]))
        time.sleep(4 * INTERVAL)
        proc.proc.send_signal(signal.SIGTERM)
        code, err = proc.finish()
    assert code == 0, err
    assert "observations stored" in err
    for node, modes in script.items():
        changes = _changes(proc.seen, node)
        assert [_state(c["payload"]) for c in changes] == [expect[m] for m in modes], node
        for change, (before, after) in zip(changes, switched[node], strict=True):
            earliest = parse_time(change["previous_observed_at"]).timestamp()
            latest = parse_time(change["observed_at"]).timestamp()
            assert earliest <= after and before <= latest, (node, change, before, after)
            assert latest - earliest <= INTERVAL + TIMEOUT + LOOP_SLACK_S, (node, change)
    # what was printed is what was stored, once each
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.kind, events.c.node, events.c.observed_at, events.c.payload).where(
                events.c.kind == "ProxyHealth"
            )
        ).all()
    engine.dispose()
    unprinted = ("heartbeat", "last")
    stored = {
        (r.node, r.observed_at.timestamp()) for r in rows if r.payload["look"] not in unprinted
    }
    # SIGTERM is a graceful stop: each target's last look is stored, after everything else
    lasts = [r for r in rows if r.payload["look"] == "last"]
    assert sorted(r.node for r in lasts) == sorted(script)
    for r in lasts:
        assert all(o.observed_at < r.observed_at for o in rows if o.node == r.node and o is not r)
        assert _state(r.payload) == "200"  # every script ends healthy
    printed = {
        (o["node"], parse_time(o["observed_at"]).timestamp())
        for o in proc.seen
        if o["kind"] == "ProxyHealth"
    }
    assert stored == printed
    assert all(r.payload["port"] == fakes.health_port for r in rows)


def test_ctrl_c_writes_what_it_has_and_weight_and_body_are_kept(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'probe.db'}"
    db_upgrade(db)
    with FakeKubeProxies(2, base=random_loopback_base(), local_endpoints=3) as fakes:
        proc = ProbeProcess(fakes, db, "--node-port", str(fakes.node_port), "--interval", "0.2")
        proc.wait_for(2)
        proc.wait_for(2, kind="NodePortProbe")
        # kube-proxy's own /healthz is looked at in the same rounds, but under load the first
        # rounds can end before it answers: wait until it was printed, then Ctrl-C
        proc.wait_for(1, kind="ProxyNodeHealth")
        proc.proc.send_signal(signal.SIGINT)
        code, err = proc.finish()
    assert code == 0, err
    first = next(o for o in proc.seen if o["kind"] == "ProxyHealth")["payload"]
    assert first["status"] == 200 and first["weight"] == 3
    assert first["body"] == {
        "service": {"namespace": "default", "name": "nginx"},
        "localEndpoints": 3,
        "serviceProxyHealthy": True,
    }
    engine = make_engine(db)
    with engine.connect() as conn:
        kinds = {r.kind for r in conn.execute(select(events.c.kind).distinct())}
    engine.dispose()
    assert {"ProxyHealth", "NodePortProbe", "ProxyNodeHealth"} <= kinds
    # every kind printed before Ctrl-C was written
    assert {o["kind"] for o in proc.seen} <= kinds
