"""The checkpoint one-shot commands save and load (replay.checkpoint_file): the next run folds
only the new facts and still equals a rebuild; a file that is not ours alone, is torn, or was
written for other facts is not used."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import checkpoint as checkpoint_module
from gapwatch.replay import checkpoint_file, projections
from gapwatch.replay.facts import write_facts
from tests.replay.test_projections import _tables


def _history(cluster: str) -> list[Observation]:
    return [
        dataclasses.replace(o, cluster=cluster)
        for o in run(load_scenario("seed-3node"), seed=3).observations
    ]


def _write(engine: Engine, observations: Sequence[Observation]) -> None:
    EventWriter(engine, derive=write_facts).write(list(observations))


def _saved_then_new_process(engine: Engine, cluster: str) -> list[Observation]:
    """The first half refreshed and saved; the process's kept checkpoints dropped; the rest
    written (returned)."""
    observations = _history(cluster)
    half = len(observations) // 2
    _write(engine, observations[:half])
    assert checkpoint_file.refresh(engine, persist=True) > 0
    path = checkpoint_file.path_for(engine)
    assert path.is_file() and path.stat().st_mode & 0o077 == 0  # this user's only
    checkpoint_file._kept.clear()  # as a new process starts
    _write(engine, observations[half:])
    return observations[half:]


def test_a_new_process_continues_from_the_saved_state(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _saved_then_new_process(engine, "saved")

    def refold(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the saved state should have been loaded, not the store re-folded")

    with monkeypatch.context() as m:
        m.setattr(checkpoint_module, "fold_stored", refold)
        assert checkpoint_file.refresh(engine, persist=True) > 0
    incremental = _tables(engine)
    projections.rebuild(engine)
    assert _tables(engine) == incremental


@pytest.mark.parametrize("spoil", ["group-writable", "torn", "other-facts"])
def test_a_file_that_does_not_fit_is_not_used(engine: Engine, spoil: str) -> None:
    _saved_then_new_process(engine, f"spoiled-{spoil}")
    path = checkpoint_file.path_for(engine)
    if spoil == "group-writable":
        os.chmod(path, 0o664)
    elif spoil == "torn":
        path.write_bytes(path.read_bytes()[:100])
    else:  # the facts were re-derived (by another process: its rebuild cannot forget ours)
        saved = path.read_bytes()
        projections.rebuild(engine, rederive=True)
        path.write_bytes(saved)
    assert checkpoint_file.load(engine).state is None
    # builds the state anew (after the re-derivation the projections are current already)
    assert checkpoint_file.refresh(engine, persist=True) > 0 or spoil == "other-facts"
    incremental = _tables(engine)
    projections.rebuild(engine)
    assert _tables(engine) == incremental


def test_a_rebuild_forgets_the_saved_state(engine: Engine) -> None:
    _saved_then_new_process(engine, "forgotten")
    checkpoint_file.forget(engine)
    assert not checkpoint_file.path_for(engine).exists()
    assert checkpoint_file.load(engine).state is None


def test_a_small_touched_share_refreshes_without_the_file(engine: Engine) -> None:
    """New facts of a small Service in a store where another holds most facts: folding that
    Service costs less than the whole store's state, so no file is read or written."""
    big = _history("big") + [dataclasses.replace(o, cluster="big2") for o in _history("big")]
    _write(engine, big)
    projections.refresh(engine)
    small = _history("small")
    _write(engine, small[: len(small) // 4])
    assert projections.touched_share(engine) < checkpoint_file.WHOLE_SHARE
    assert checkpoint_file.refresh(engine, persist=True) > 0
    assert not checkpoint_file.path_for(engine).exists()
    incremental = _tables(engine)
    projections.rebuild(engine)
    assert _tables(engine) == incremental


def test_openness_reads_the_kept_fold_while_it_is_current(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that keeps the whole store's fold (the dashboard following a recorder: each new
    version refreshes it) answers `api.openness` from it while it holds every stored fact, and
    folds the Service again once a newer fact is stored; the answers are the same."""
    from gapwatch.replay import api, load

    observations = _history("c1")
    half = len(observations) // 2
    _write(engine, observations[:half])
    checkpoint_file.refresh(engine)  # kept in the process, as the dashboard's
    _write(engine, observations[half:])
    assert checkpoint_file.refresh(engine) > 0
    (svc,) = api.services(engine)
    found = api.windows(engine, service=svc)
    assert any(not w.certain for w in found), "the seed run has a possible window"
    folded = api.openness(engine, svc, found)
    assert folded and set(folded) == {w for w in found if not w.certain}

    folds: list[object] = []
    real = load.load_state

    def counted(*args: object, **kwargs: object) -> object:
        folds.append(kwargs.get("service"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("gapwatch.replay.api.load_state", counted)
    assert api.openness(engine, svc, found) == folded
    assert folds == []  # read from the kept fold
    # a fact newer than the kept fold: it no longer holds everything, so the Service is folded
    probe = next(o for o in reversed(observations) if o.kind == "NodePortProbe")
    later = probe.observed_at + (probe.observed_at - observations[0].observed_at)
    _write(engine, [dataclasses.replace(probe, observed_at=later, previous_observed_at=None)])
    assert api.openness(engine, svc, found) == folded
    assert folds == [svc]
