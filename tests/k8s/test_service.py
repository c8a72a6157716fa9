"""The recorder process in its default scope, with its HTTP endpoints, and the CLI entry points."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gapwatch.recorder.sources.k8s.resources import RESOURCES
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.store import make_engine
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import RecorderThread, caught_up, fast_config, stored_rows, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _get(port: int | None, path: str) -> tuple[int, str]:
    """One GET; 10 s for an answer (a hang guard: the recorder's endpoints share a process with
    its first listing, and on a loaded machine 2 s was seen to pass before /readyz answered)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _ready(port: int | None) -> bool:
    """/readyz answers 200; no answer yet (refused, or slow) is not ready yet."""
    try:
        return _get(port, "/readyz")[0] == 200
    except OSError:
        return False


def test_default_scope_records_what_concerns_local_services(store_url: str) -> None:
    config = fast_config(scope="local-services", kinds=tuple(RESOURCES))
    services = objects.services()
    ingress = services[-1]  # kubelb/kubelb-ingress-nginx-controller
    selector = ingress["spec"]["selector"]
    engine = make_engine(store_url)
    with FakeApiServer(bookmark_interval=0.05) as fake:
        for service in services:
            fake.create("Service", service)
        fake.create("Node", objects.node(1))
        fake.create("Pod", objects.pod("kubelb", "ingress-1", "node-1", selector))
        fake.create("Pod", objects.pod("kubelb", "unrelated", "node-1", {"app": "x"}))
        fake.create(
            "EndpointSlice",
            objects.endpoint_slice("kubelb", "in-1", "kubelb-ingress-nginx-controller", "node-1"),
        )
        fake.create(
            "EndpointSlice", objects.endpoint_slice("kubelb", "other", "other-svc", "node-1")
        )
        fake.create(
            "Event", objects.event("kubelb", "e1", "service-controller", "UpdatedLoadBalancer")
        )
        fake.create("Event", objects.event("kubelb", "e2", "kubelet", "Pulled"))
        rec = RecorderThread(config, store_url, fake.url).start()
        wait_until(lambda: rec.recorder.port is not None, "the HTTP endpoints")
        wait_until(lambda: _ready(rec.recorder.port), "readiness")
        port = rec.recorder.port
        assert _get(port, "/livez")[0] == 200
        # Later objects are judged by the same scope.
        fake.create("Pod", objects.pod("kubelb", "ingress-2", "node-1", selector))
        fake.create("Pod", objects.pod("kubelb", "unrelated-2", "node-1", {"app": "x"}))
        wait_until(lambda: caught_up(engine, fake, config), "catching up")
        # A Service turns Local: the Pod it selects, passed over so far, is recorded now.
        turned = fake.get("Service", "kubelb", services[0]["metadata"]["name"])
        turned["spec"]["selector"] = {"app": "x"}
        fake.update("Service", turned)
        fake.update("Node", fake.get("Node", None, "node-1"))  # any event: the Pod stream sees it
        fake.update("Pod", fake.get("Pod", "kubelb", "ingress-1"))
        # The widening's relist runs after the Service stream has seen the change, possibly after
        # every checkpoint already reached the fake's resourceVersion: wait for its rows too.
        wait_until(
            lambda: (
                caught_up(engine, fake, config)
                and ("Pod", "unrelated-2") in {(r[0], r[2]) for r in stored_rows(engine)}
            ),
            "catching up again, the widened scope relisted",
        )
        status, metrics = _get(port, "/metrics")
        # The shared ClusterView knows what the k8s source saw, for the other sources.
        view = rec.recorder.view
        local = sorted(
            f"{s['metadata']['namespace']}/{s['metadata']['name']}"
            for s in services
            if s["spec"].get("externalTrafficPolicy") == "Local"
        )
        assert local and [s.key for s in view.local_services()] == local
        assert [n.name for n in view.nodes()] == ["node-1"]
        rec.stop()
    names = {(kind, name) for kind, _, name, _, _ in stored_rows(engine)}
    engine.dispose()
    assert names == {
        *(("Service", s["metadata"]["name"]) for s in services),
        ("Node", "node-1"),
        ("Pod", "ingress-1"),
        ("Pod", "ingress-2"),
        ("Pod", "unrelated"),
        ("Pod", "unrelated-2"),
        ("EndpointSlice", "in-1"),
        ("Event", "e1"),
    }
    assert status == 200
    for name in (
        "gapwatch_recorder_events_recorded_total",
        "gapwatch_recorder_watch_restarts_total",
        "gapwatch_recorder_relists_total",
        "gapwatch_recorder_write_lag_seconds_bucket",
        "gapwatch_recorder_spool_depth",
        'gapwatch_recorder_last_event_age_seconds{kind="Pod"}',
    ):
        assert name in metrics


def test_record_help_and_kubectl_plugin(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "record", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "--config" in result.stdout
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("kubectl is required under CI=true")
        pytest.skip("kubectl not installed")
    plugin = tmp_path / "kubectl-gapwatch"  # what the kubectl-gapwatch console script installs
    plugin.write_text(f'#!/bin/sh\nexec {sys.executable} -m gapwatch.dashboard.cli "$@"\n')
    plugin.chmod(0o755)
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    result = subprocess.run(
        [kubectl, "gapwatch", "record", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Record Kubernetes changes" in result.stdout


def test_a_resumed_recorder_is_ready_once_its_watches_are_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    from gapwatch.recorder.store import upgrade

    engine = make_engine(url)
    upgrade(engine)
    config = fast_config(kinds=("Node", "Pod"))
    with FakeApiServer(bookmark_interval=3600) as fake:  # no bookmarks, no changes
        fake.create("Node", objects.node(1))
        first = RecorderThread(config, url, fake.url).start()
        wait_until(lambda: caught_up(engine, fake, config), "the first LIST")
        first.stop()
        lists = fake.counters.lists
        second = RecorderThread(config, url, fake.url).start()
        wait_until(lambda: second.recorder.ready() is None, "readiness without any event")
        second.stop()
        assert fake.counters.lists == lists  # it resumed from the checkpoints, no LIST
    engine.dispose()


def test_a_restarted_recorder_knows_the_stored_nodes_and_services_without_a_relist(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed from its checkpoints, the watch sends only what changed since: the shared view
    (what the prober probes, what LB targets map to, how many endpoints the EndpointSlices list
    per node for the prober's NodePort self-check) is loaded from the store, or a recorder
    restarted while the other replica was also down probed nothing (the lab's sigkill-all)."""
    config = fast_config(scope="all", kinds=("Service", "Node", "EndpointSlice"))
    # every view asks for the slices, as the prober's self-check does (`nodeport: always`)
    monkeypatch.setattr(ClusterView, "wants_slices", True)
    service = objects.services()[-1]
    namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
    endpoints = objects.endpoint_slice(namespace, f"{name}-x1", name, "node-1")
    listed = len(endpoints["endpoints"])
    engine = make_engine(store_url)
    with FakeApiServer(bookmark_interval=0.05) as fake:
        fake.create("Service", service)
        fake.create("Node", objects.node(1))
        fake.create("Node", objects.node(2))
        fake.create("EndpointSlice", endpoints)
        first = RecorderThread(config, store_url, fake.url).start()
        wait_until(lambda: caught_up(engine, fake, config), "the first recorder to catch up")
        assert first.recorder.view.listed_endpoints(f"{namespace}/{name}", "node-1") == listed
        first.stop()
        lists = fake.counters.lists
        second = RecorderThread(config, store_url, fake.url).start()
        wait_until(lambda: second.recorder.port is not None, "the second recorder")
        wait_until(lambda: len(second.recorder.view.nodes()) == 2, "the view's Nodes")
        assert fake.counters.lists == lists  # resumed from the checkpoints: no relist
        assert [s.key for s in second.recorder.view.services()] == [f"{namespace}/{name}"]
        view = second.recorder.view
        wait_until(lambda: view.listed_endpoints(f"{namespace}/{name}", "node-1") is not None,
                   "the view's EndpointSlices")  # fmt: skip
        assert listed >= 1 and view.listed_endpoints(f"{namespace}/{name}", "node-1") == listed
        assert view.listed_endpoints(f"{namespace}/{name}", "node-2") == 0
        assert view.listed_endpoints(f"{namespace}/other", "node-1") is None
        second.stop()
    engine.dispose()
