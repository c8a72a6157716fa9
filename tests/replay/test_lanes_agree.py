"""The timeline's lanes agree with the windows drawn over them (issue #13), on a store built
the way a postmortem builds one: the simulator's cluster written as a Kubernetes audit log,
CloudTrail, an ALB access log and Prometheus' kube-proxy metrics, read back by the real
importers (no probe, no LB poller, no NDJSON). Without probes the proxy lane is what
detection infers; it used to be the endpoints lane shifted by the assumed lag (up to 60 s)
while the windows were bounded by kube-proxy's syncs: NODE3's window of seed-3node seed 3
ended at +67.7 s and its proxy lane drew CLOSED until +125 s."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.sim.presets import PRESETS
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.replay import api
from tests.replay.lane_agreement import contradictions
from tests.replay.postmortem import import_only

FORMATS = ("k8s-audit", "cloudtrail", "elb-access-log", "prometheus")


def _imported(engine: Engine, tmp_path: Path, preset: str, seed: int) -> None:
    import_only(engine, tmp_path, preset, seed, FORMATS)


def test_a_window_bounded_by_syncs_ends_where_the_proxy_lane_opens(
    tmp_path: Path, store_url: str
) -> None:
    """Each registered-before-forwarding window ends where kube-proxy surely forwards: the
    proxy lane, measured by the same syncs, is OPEN from the window's latest end on, and
    neither OPEN inside the window nor CLOSED after it (before, CLOSED until +125 s)."""
    engine = make_engine(store_url)
    _imported(engine, tmp_path, "seed-3node", 3)
    windows = [w for w in api.windows(engine) if w.cls == "registered-before-forwarding"]
    assert windows and all(w.provenance == "measured" for w in windows)
    for w in windows:
        proxy = [s for s in api.timeline(engine, w.service, nodes=[w.node]) if s.lane == "proxy"]
        after = [s for s in proxy if s.end_us is None or s.end_us > w.end_latest_us]
        assert after and after[0].state in ("OPEN", "UNKNOWN"), (w, proxy)
        assert all(s.state != "CLOSED" for s in after), (w, proxy)
        opened = next(s for s in after if s.state == "OPEN")
        assert opened.start_us <= w.end_latest_us and opened.provenance == "measured"
        assert not any(
            s.state == "OPEN" and s.start_us < w.end_earliest_us and s.end_us and
            s.end_us > w.start_latest_us for s in proxy
        ), (w, proxy)  # fmt: skip
    assert contradictions(api.windows(engine), api.timeline(engine, windows[0].service)) == []


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"large"}))
@pytest.mark.parametrize("seed", [1, 2])
def test_no_lane_contradicts_a_window_imported_only(tmp_path: Path, preset: str, seed: int) -> None:
    """Over the presets (the large one aside: slow), imported only: no drawn lane says the
    node surely served, or the LB surely sent nothing, inside a window's sure part, and none
    draws a gap kube-proxy made where no window is (tests/replay/lane_agreement.py)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    _imported(engine, tmp_path, preset, seed)
    windows = api.windows(engine)
    assert windows
    for svc in {w.service for w in windows}:
        mine = [w for w in windows if w.service == svc]
        assert contradictions(mine, api.timeline(engine, svc)) == []
