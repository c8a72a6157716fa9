"""The What-if page shows the figures `gapwatch whatif` and `gapwatch advise` print for the same
Service and range, and a new event in the range reaches both (nothing the page or a scope keeps
answers for the store before it).

The page keeps its scope (replay.scope.Scope: the fold around the rollout, its lag books and
pod lives) per store version; the CLI folds afresh each time, so it is the reference.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard.demo import DemoStore, build_demo_store, sqlite_url
from gapwatch.dashboard.figures import rank_rollouts
from gapwatch.dashboard.page_whatif import WHOLE_RANGE
from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim import run as run_sim
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.timefmt import from_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.rollout_range import rollout_range
from tests.test_cli_honest import run

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TWO_ROLLOUTS = Path(__file__).resolve().parents[1] / "replay" / "two-rollouts.yaml"
#: the page's advice outcome (dashboard.page_whatif.advice_outcome): no window left, or how many
ADVICE = re.compile(
    r"recorded timeline (?:has \*\*no gap window left\*\*|still has \*\*(\d+) gap windows?\*\*)"
    r" \(as recorded it has (\d+) windows?\)"
)


@pytest.fixture
def demo(tmp_path: Path) -> DemoStore:
    return build_demo_store(tmp_path / "demo.db")


def _page(
    url: str, monkeypatch: pytest.MonkeyPatch, scope: str | None, cluster: str = "seed"
) -> AppTest:
    monkeypatch.setenv("GAPWATCH_DB", url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"page": "whatif", "cluster": cluster})
    at.run()
    if scope is not None:
        at.selectbox(key="whatif-rollout").set_value(scope).run()
    at.select_slider(key="whatif-prestop_s").set_value(30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest) -> tuple[int, int, int, int]:
    """(recorded windows, what-if windows, advice after, advice before) as the page says."""
    metrics = {m.label: m.value for m in at.metric}
    (said,) = [m.value for m in at.markdown if ADVICE.search(m.value)]
    found = ADVICE.search(said)
    assert found is not None
    after, before = int(found[1] or 0), int(found[2])
    return int(metrics["Recorded windows"]), int(metrics["What-if windows"]), after, before


def test_the_page_shows_what_the_cli_prints_for_the_whole_range(
    demo: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _page(demo.url, monkeypatch, WHOLE_RANGE)
    code, out, err = run("advise", "--db", demo.url, "--cluster", "seed", "--json")
    assert code == 0, err
    advice = orjson.loads(out)
    code, out, err = run(
        "whatif", "--db", demo.url, "--cluster", "seed", "--prestop", "30", "--json"
    )
    assert code == 0, err
    doc = orjson.loads(out)
    shown = _shown(at)
    assert shown == (
        doc["windows_recorded"], len(doc["windows"]),
        advice["windows_after"], advice["windows_before"],
    )  # fmt: skip
    assert shown[0] > shown[2]  # the advice closes windows: the comparison is not vacuous


#: `api.advise` of a range, in a process of its own (as `_gapwatch`)
_ADVISE = """
import sys
from datetime import datetime
from gapwatch.recorder.store import make_engine
from gapwatch.replay import api
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.rollout_range import rollout_range
url, cluster, namespace, name, since, until, rollout = sys.argv[1:]
engine = make_engine(url)
(r,) = [r for r in api.rollouts(engine) if r.id == rollout]
advice = api.advise(
    engine, ServiceRef(cluster, namespace, name),
    since=datetime.fromisoformat(since), until=datetime.fromisoformat(until), rollout=r,
)
print(advice.windows_after, advice.windows_before)
"""


def _gapwatch(*args: str) -> str:
    """The `gapwatch` command in a process of its own: nothing the page's process keeps (a
    scope, its lag books and pod lives) can answer for it."""
    command = [str(Path(sys.executable).parent / "gapwatch"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _expected(at: AppTest, url: str, svc: ServiceRef) -> tuple[int, int, int, int]:
    """What `gapwatch whatif --rollout ID` prints for the page's chosen rollout, and the advice
    for the range it reads (replay.rollout_range), each in a new process."""
    engine = make_engine(url)
    try:
        chosen = at.selectbox(key="whatif-rollout").value
        (r,) = [x for x in api.rollouts(engine, service=svc) if x.id == chosen]
        lo, hi = rollout_range(r, api.assumptions(engine))
    finally:
        engine.dispose()
    doc = orjson.loads(
        _gapwatch(
            "whatif", "--db", url, "--cluster", svc.cluster, "--prestop", "30",
            "--rollout", r.id, "--json",
        )
    )  # fmt: skip
    since, until = from_micros(lo).isoformat(), from_micros(hi).isoformat()
    advice = subprocess.run(
        [sys.executable, "-c", _ADVISE, url, svc.cluster, svc.namespace, svc.name, since, until,
         r.id],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.split()  # fmt: skip
    return doc["windows_recorded"], len(doc["windows"]), int(advice[0]), int(advice[1])


def test_a_new_event_in_the_rollout_reaches_the_open_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page opened on a store recorded up to the middle of its worst rollout (the page's
    default scope) shows what the CLI prints for that rollout's range; then the rest of the
    recording arrives (new events in the range) and the open page reruns: its figures follow
    the CLI's, not what the scope kept before."""
    observations = list(run_sim(load_scenario("seed-3node"), seed=1).observations)
    full = make_engine(sqlite_url(tmp_path / "full.db"))
    upgrade(full)
    EventWriter(full, derive=write_facts).write_all(observations)
    (svc,) = api.services(full)
    worst = rank_rollouts(api.rollouts(full, service=svc))[0]
    full.dispose()
    mid = from_micros((worst.start_us + worst.end_us) // 2)
    url = sqlite_url(tmp_path / "grows.db")
    engine = make_engine(url)
    upgrade(engine)
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all([o for o in observations if o.observed_at < mid])
    at = _page(url, monkeypatch, None, svc.cluster)
    first = _shown(at)
    assert first == _expected(at, url, svc)
    writer.write_all([o for o in observations if o.observed_at >= mid])
    engine.dispose()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _shown(at) != first  # the new events change the answer: not vacuous
    assert _shown(at) == _expected(at, url, svc)


#: seed-3node with a pod crash on NODE1 12 s before the rollout: its window (48.5-52.8 s) is in
#: no rollout and ends 7 s before the rollout begins
CRASH_BEFORE = """
preset: seed-3node
name: crash-before-rollout
events:
  - {at_s: 48, action: crash_pod, node: NODE1}
  - {at_s: 60, action: rollout}
"""


def test_the_page_and_the_cli_scope_a_rollout_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page scopes a rollout as `gapwatch whatif --rollout` does (replay.rollout_range): a
    window of no rollout 7 s before it is not counted as the rollout's. Before, the page took
    the span +-15 s and showed 4 recorded windows and 3 under preStop 30 s where the CLI printed
    3 and 2 for the same rollout."""
    (tmp_path / "crash.yaml").write_text(CRASH_BEFORE)
    url = sqlite_url(tmp_path / "crash.db")
    engine = make_engine(url)
    upgrade(engine)
    scenario = load_scenario(str(tmp_path / "crash.yaml"))
    EventWriter(engine, derive=write_facts).write_all(run_sim(scenario, seed=1).observations)
    (svc,) = api.services(engine)
    (rollout,) = [r for r in api.rollouts(engine, service=svc) if r.kind == "rollout"]
    before = [w for w in api.windows(engine, service=svc.key) if w.end_us < rollout.start_us]
    engine.dispose()
    assert before and all(w.rollout is None for w in before)  # the neighbour is there
    at = _page(url, monkeypatch, rollout.id, svc.cluster)
    assert _shown(at) == _expected(at, url, svc)
    assert _shown(at)[0] == len(rollout.windows)


def test_the_page_counts_the_rollouts_own_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of two rollouts 40 s apart (tests/replay/two-rollouts.yaml), replay gives every window
    to the first; the page scoped to the second shows none recorded and none under preStop
    30 s, as `gapwatch whatif --rollout` prints (issue #13). Before, it showed the 3 windows of
    the first that start inside the second's range."""
    url = sqlite_url(tmp_path / "two.db")
    engine = make_engine(url)
    upgrade(engine)
    scenario = load_scenario(str(TWO_ROLLOUTS))
    EventWriter(engine, derive=write_facts).write_all(run_sim(scenario, seed=1).observations)
    (svc,) = api.services(engine)
    (empty,) = [r for r in api.rollouts(engine, service=svc) if not r.windows]
    lo, hi = rollout_range(empty, api.assumptions(engine))
    inside = [w for w in api.windows(engine, service=svc.key) if lo <= w.start_us < hi]
    engine.dispose()
    assert inside  # the neighbour's windows are there
    at = _page(url, monkeypatch, empty.id, svc.cluster)
    assert _shown(at)[:2] == (0, 0)
    assert _shown(at) == _expected(at, url, svc)


def test_the_report_advises_a_rollout_over_the_range_the_page_reads(demo: DemoStore) -> None:
    """`gapwatch report --rollout`'s advice reads the range the page and `gapwatch whatif
    --rollout` read (replay.rollout_range). Before, it read the span alone, which misses the
    windows other settings move past the rollout's end: on the demo's seed rollout it advised
    preStop 1 s, whose worst-case lags leave a window 1-9 s after the recorded end, where the
    page advised 10 s."""
    from gapwatch.dashboard.report import collect

    engine = make_engine(demo.url)
    try:
        for r in [x for x in api.rollouts(engine) if x.kind == "rollout"]:
            lo, hi = rollout_range(r, api.assumptions(engine))
            (section,) = collect(engine, rollout=r.id).sections
            page = api.advise(
                engine, r.service, since=from_micros(lo), until=from_micros(hi), rollout=r
            )
            assert section.advice == page, r.id
            assert section.advice_span == (lo, hi)
    finally:
        engine.dispose()
