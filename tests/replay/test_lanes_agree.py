"""The timeline's lanes agree with the windows drawn over them (issue #13), on a store built
the way a postmortem builds one: the simulator's cluster written as a Kubernetes audit log,
CloudTrail, an ALB access log and Prometheus' kube-proxy metrics, read back by the real
importers (no probe, no LB poller, no NDJSON). Without probes the proxy lane is what
detection infers; it used to be the endpoints lane shifted by the assumed lag (up to 60 s)
while the windows were bounded by kube-proxy's syncs: NODE3's window of seed-3node seed 3
ended at +67.7 s and its proxy lane drew CLOSED until +125 s.

And on the simulator's every observation (NodePort and health-check probes, target polls:
the recorder's store), where a sampled lane drew a change at the look that saw it: the lb
lane drew ABSENT until +65.0 s under a window surely open from +64.2 s (seed-3node seeds 1
and 2), the NodePort lane OPEN for a refused look under a pod that turned serving (aws-nlb
seed 2); main had such a lane in 15 of the 18 runs below, now none (session 32)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.sim.presets import PRESETS
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import Segment
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


def _recorded(engine: Engine, preset: str, seed: int) -> None:
    """The preset's run as the recorder stores it (every observation), refreshed."""
    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario(preset), seed=seed).observations
    )
    projections.refresh(engine)


def _lane(engine: Engine, node: str, lane: str) -> list[tuple[str, float | None, float | None]]:
    """The node's lane as (state, start, end) in seconds from the run's start."""
    segs = [s for svc in api.services(engine) for s in api.timeline(engine, svc, nodes=[node])]
    t0 = min(s.start_us for s in segs)

    def sec(t: int | None) -> float | None:
        return None if t is None else round((t - t0) / 1e6, 1)

    mine: list[Segment] = [s for s in segs if s.lane == lane]
    return [(s.state, sec(s.start_us), sec(s.end_us)) for s in mine]


@pytest.mark.parametrize(("seed", "looks"), [(1, (60.0, 65.0)), (2, (65.0, 70.0))])
def test_the_lb_lane_draws_what_the_polls_do_not_know(
    engine: Engine, seed: int, looks: tuple[float, float]
) -> None:
    """NODE3 joins: one poll did not list it (+60 s; seed 2: +65 s), the next saw it healthy.
    The lb lane draws UNKNOWN between them, not ABSENT until the second (the window is
    surely open from +64.2 s; seed 2: +67.0 s)."""
    _recorded(engine, "seed-3node", seed)
    lb = _lane(engine, "NODE3", "lb")
    missed, seen = looks
    assert lb == [("ABSENT", 0.0, missed), ("UNKNOWN", missed, seen), ("HEALTHY", seen, None)]
    assert contradictions(api.windows(engine), api.timeline(engine, api.services(engine)[0])) == []


def test_a_refused_look_is_not_drawn_open(engine: Engine) -> None:
    """aws-nlb seed 2: the pod died between the looks at +68 s and +69 s, its replacement was
    serving from +69.25 s; the looks at +69 s and +70 s were refused (rules to the dead pod),
    +71 s connected. The proxy lane draws REFUSED between the refused looks and UNKNOWN
    between the looks that disagree, not OPEN throughout (which beside the new pod's
    `serving` drew the node serving inside the window the refused looks prove)."""
    _recorded(engine, "aws-nlb", 2)
    proxy = _lane(engine, "ip-10-0-1-12.ec2.internal", "proxy")
    assert proxy == [
        ("OPEN", 0.0, 68.0), ("UNKNOWN", 68.0, 69.0), ("REFUSED", 69.0, 70.0),
        ("UNKNOWN", 70.0, 71.0), ("OPEN", 71.0, None),
    ], proxy  # fmt: skip
    assert contradictions(api.windows(engine), api.timeline(engine, api.services(engine)[0])) == []


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"large"}))
@pytest.mark.parametrize("seed", [1, 2])
def test_no_lane_contradicts_a_window_with_every_observation(
    tmp_path: Path, preset: str, seed: int
) -> None:
    """Over the presets (the large one aside), every observation recorded (SQLite; the
    cases above on both backends): tests/replay/lane_agreement.py finds nothing."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    _recorded(engine, preset, seed)
    windows = api.windows(engine)
    assert windows
    for svc in {w.service for w in windows}:
        mine = [w for w in windows if w.service == svc]
        assert contradictions(mine, api.timeline(engine, svc)) == []
