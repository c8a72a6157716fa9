"""replay.suffix reads a moved node's R, F and probe lanes without a Python pass over all of them:
`same_before` answers what comparing the cut lists answers, cutting only what follows the
lists' common prefix, and a refresh compares and floors the node's lanes cutting only the ends
of R's and F's lists and without checking its probe lanes' order again."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import node_cache, suffix
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.signals import Iv, Tri
from tests.replay import builders
from tests.replay import test_gap_tail as blips
from tests.replay import test_suffix_stretch as stretch


def _ivs(rng: random.Random, n: int) -> list[Iv]:
    """`n` intervals in start order (touching, apart, overlapping, empty), now and then one
    out of order."""
    out, at = [], rng.randrange(-5, 5)
    for _ in range(n):
        at += rng.choice((0, 1, 2, 4))
        start = at - (rng.randrange(10) if rng.random() < 0.05 else 0)
        out.append(Iv(start, start + rng.randrange(-1, 8), rng.randrange(3), rng.randrange(3)))
    return out


def _varied(rng: random.Random, ivs: list[Iv]) -> list[Iv]:
    """`ivs` the same, or with a changed end, end id or interval somewhere, or cut or grown."""
    out = list(ivs)
    change = rng.choice(("same", "end", "eid", "one", "cut", "grown"))
    if out and change in ("end", "eid", "one"):
        k = rng.randrange(len(out))
        iv = out[k]
        if change == "end":
            out[k] = iv._replace(end=iv.end + rng.choice((-2, 1, 5)))
        elif change == "eid":
            out[k] = iv._replace(end_eid=iv.end_eid + 1)
        else:
            out[k] = iv._replace(start=iv.start + rng.choice((-1, 1)))
    elif change == "cut":
        out = out[: rng.randrange(len(out) + 1)]
    elif change == "grown":
        out += _ivs(rng, rng.randrange(1, 5))
    return out


def test_same_before_answers_as_the_cut_lists() -> None:
    rng = random.Random(3032)
    for _ in range(20000):
        a = _ivs(rng, rng.choice((0, 1, 3, 10, 40)))
        b = _varied(rng, a)
        at = rng.randrange(-10, max(a[-1].end + 5, 0) if a else 10)
        want = suffix.before(Tri(a, []), at)[0] == suffix.before(Tri(b, []), at)[0]
        assert suffix.same_before(a, b, at) == want


def test_a_refresh_reads_no_whole_lane_for_the_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/replay/test_gap_tail.py's node (R's and F's lists 350-odd intervals, its health
    and NodePort lanes 181 samples each), refreshed with its last 1,000 s: the suffix keeps
    the windows before its instant cutting only the ends of R's and F's lists where they moved
    (14 intervals; before: all 358) and checking the order of none of the probe lanes the
    node's find read (before: 181 + 181 samples), and the windows are a rebuild's."""
    cut: list[int] = []
    plain = suffix.before

    def counting(sig: Tri, at_us: int) -> Any:
        cut.append(len(sig.possible) + len(sig.definite))
        return plain(sig, at_us)

    monkeypatch.setattr(suffix, "before", counting)
    checked = builders.counted([suffix], "sorted_lane", monkeypatch.setattr)
    _, after, rebuilt = builders.refreshed_at(blips._history(), stretch.END - 1000.0)
    assert after == rebuilt
    assert sum(cut) <= 40, cut
    assert max(checked) <= 2, checked  # the endpoints and the Node lanes


def _flapping_targets() -> list[Observation]:
    """tests/replay/test_gap_tail.py's history with n2's LB target polled unhealthy one poll
    in ten (its target lane grows every 100 s): the refresh's new samples land at its end."""
    history = [o for o in blips._history() if o.kind != "TargetHealth"]
    prev = None
    for i in range(1, int(stretch.END / 20)):
        t = 20.0 * i
        history.append(builders.target(t, prev, "n1", "healthy"))
        history.append(builders.target(t, prev, "n2", "unhealthy" if i % 10 == 5 else "healthy"))
        prev = t
    return sorted(history, key=lambda o: o.observed_at)


def test_a_refresh_reads_only_the_new_samples_of_the_target_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suffix's last look routing to the node (`reusable`: then and now) carried on from
    the node's last refresh: refreshed three times, the third reads only the target samples
    appended since the second (`routed_again` over n2's 10 new samples; before: the 171 it
    held at the second), and the windows are a rebuild's at every step."""
    facts = builders.facts_of(_flapping_targets())
    cuts = [to_micros(builders.at(stretch.END - s)) for s in (2000.0, 1000.0)]
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    done = 0
    read: list[int] = []
    for step, bound in enumerate([*cuts, None]):
        more = [f for f in facts[done:] if bound is None or f.at_us <= bound]
        fold(state, more)
        done += len(more)
        (svc,) = lb_facing(state)
        if step == 2:
            read = builders.counted([suffix], "routed_again", monkeypatch.setattr)
        assert node_cache.windows(state, svc, DEFAULTS, cache) == detect(state, [svc], DEFAULTS)
    lane = state.probes["target"][(svc, "n2")]
    assert len(lane) > 150
    assert read and sum(read) <= 20, read  # main: [1, 1, 171]
