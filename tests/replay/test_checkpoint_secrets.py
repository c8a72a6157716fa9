"""A store URL's secrets stay out of replay's saved checkpoint: a PostgreSQL URL with its password
as a query parameter (`?password=...`, which libpq accepts and SQLAlchemy's `str(URL)` keeps,
unlike the password of the user information) refreshes and saves a checkpoint whose file holds
no trace of it, and a new process still continues from that file. Real PostgreSQL (the test
server trusts local logins, so the parameter is accepted and not checked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from gapwatch.recorder.store import make_engine
from gapwatch.replay import checkpoint as checkpoint_module
from gapwatch.replay import checkpoint_file
from tests.replay.test_checkpoint_file import _history, _write

SECRET = "s3cret-in-the-query-7Q"


@pytest.mark.postgres
def test_a_query_password_is_not_pickled_with_the_checkpoint(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPWATCH_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    url = make_url(pg_url).update_query_dict({"password": SECRET})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        observations = _history("secret")
        half = len(observations) // 2
        _write(engine, observations[:half])
        assert checkpoint_file.refresh(engine, persist=True) > 0
        saved = checkpoint_file.path_for(engine)
        assert saved.is_file()
        assert SECRET.encode() not in saved.read_bytes()
        assert all(SECRET not in key for key in checkpoint_file._kept)

        checkpoint_file._kept.clear()  # as a new process starts
        _write(engine, observations[half:])

        def refold(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the saved checkpoint should have been used")

        with monkeypatch.context() as m:
            m.setattr(checkpoint_module, "fold_stored", refold)
            assert checkpoint_file.refresh(engine, persist=True) > 0
        assert SECRET.encode() not in saved.read_bytes()
    finally:
        engine.dispose()
        checkpoint_file._kept.clear()
