"""The demo store: simulated clusters in a fresh SQLite file, replayed, ready for the dashboard.

`gapwatch demo` is a newcomer's first command. It simulates a 3-node cluster with both races
(registered-before-forwarding and closed-before-deregistered) and a larger AWS-NLB-like cluster
(a rollout, a drain, a node deletion, a new node and a crash), each as its own cluster, writes
what the recorder would have recorded into a fresh SQLite file, brings the replay projections up
to date and returns what it built, truth included, so callers (the CLI, tests, the benchmark) can
compare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from gapwatch.dashboard.errors import DashboardError
from gapwatch.recorder.progresslines import Track, advance_to
from gapwatch.recorder.sim import Simulation, Truth, load_scenario
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts

#: (preset, cluster name) simulated by default: the seed and a larger, busier cluster.
DEFAULT_SCENARIOS: tuple[tuple[str, str], ...] = (("seed-3node", "seed"), ("aws-nlb", "aws"))
#: Added by `gapwatch demo --large`: the simulator's `large` preset as it is (300 nodes for 24
#: hours, about 1.1M observations: docs/simulator.md); commands.LARGE_SUMMARY is what help says.
LARGE_SCENARIO: tuple[str, str] = ("large", "large")


@dataclass(frozen=True, slots=True)
class SimulatedCluster:
    preset: str
    cluster: str
    seed: int
    events: int
    truth: Truth


@dataclass(frozen=True, slots=True)
class DemoStore:
    url: str
    path: Path
    clusters: list[SimulatedCluster]
    windows: int  # windows the replay found


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def simulate_into(
    engine: Engine,
    preset: str,
    cluster: str,
    *,
    seed: int = 1,
    duration_s: float | None = None,
    track: Track | None = None,
) -> SimulatedCluster:
    """Run one preset as `cluster` and write its observations (facts derived at ingest); with
    `track` (recorder.cliutil.progress), a progress bar over the simulated time."""
    overrides: dict[str, object] = {"cluster": cluster}
    if duration_s is not None:
        overrides["duration_s"] = duration_s
    sim = Simulation(load_scenario(preset, overrides), seed)
    bar = track(f"simulating {preset}", sim.scenario.duration_s) if track else nullcontext()
    with bar as advance:
        if advance is not None:
            sim.on_progress = advance_to(advance)
        written = EventWriter(engine, derive=write_facts, notify=False).write_all(sim)
    if sim.truth is None:  # pragma: no cover - the simulator sets it when exhausted
        raise DashboardError(f"simulation of {preset} gave no truth")
    return SimulatedCluster(preset, cluster, seed, written.inserted, sim.truth)


def windows_per_cluster(url: str) -> dict[str, tuple[int, int]]:
    """{cluster: (proven windows, possible windows)} as the replay found them."""
    engine = make_engine(url)
    try:
        out: dict[str, tuple[int, int]] = {}
        for w in api.windows(engine):
            proven, possible = out.get(w.service.cluster, (0, 0))
            out[w.service.cluster] = (proven + w.certain, possible + (not w.certain))
        return out
    finally:
        engine.dispose()


def build_demo_store(
    path: Path,
    *,
    scenarios: Sequence[tuple[str, str]] = DEFAULT_SCENARIOS,
    seed: int = 1,
    replace: bool = True,
    on_step: Callable[[str], None] | None = None,
    track: Track | None = None,
    replay_track: Track | None = None,
) -> DemoStore:
    """Simulate `scenarios` into a fresh SQLite file at `path` and run the replay over it
    (`track`: a progress bar per simulation, as simulate_into; `replay_track`: the replay's
    steps, as `gapwatch replay` shows them: replay.api.refresh)."""
    if path.exists():
        if not replace:
            raise DashboardError(f"{path} exists: pass --replace to rebuild it as a demo store")
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    url = sqlite_url(path)
    engine = make_engine(url)
    try:
        upgrade(engine)
        clusters = []
        for preset, cluster in scenarios:
            if on_step:
                on_step(f"simulating {preset} as cluster {cluster!r}")
            clusters.append(simulate_into(engine, preset, cluster, seed=seed, track=track))
        if on_step:
            on_step("replaying: folding timelines, detecting windows, grouping rollouts")
        # With a checkpoint the store's facts are folded once, counted on a "folding facts" bar,
        # as `gapwatch replay`'s first run does; without one each Service folds its own, and the
        # only bar counts Services (3 with --large), still at 1 through the large one's fold.
        api.refresh(engine, checkpoint=Checkpoint(), track=replay_track)
        found = len(api.windows(engine))
    finally:
        engine.dispose()
    return DemoStore(url=url, path=path, clusters=clusters, windows=found)
