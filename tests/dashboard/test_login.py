"""Streamlit's OIDC login, the way deploy/components/dashboard publishes the dashboard: with an
`[auth]` section in secrets.toml every visitor gets a "Log in" button, and pressing it starts
the login. Streamlit's `st.login` needs Authlib (`streamlit[auth]`), which the dashboard extra
did not install: the button raised `Authentication requires Authlib>=1.3.2` and nobody could log
in to a deployed dashboard."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-for-this-test-only",
    "client_id": "gapwatch",
    "client_secret": "not-a-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def secrets_forgotten() -> Iterator[None]:
    """Streamlit keeps the secrets it parsed in one object per process: without forgetting
    this test's `[auth]`, every later AppTest of the same worker met the login page instead of
    the dashboard (test_overview_kept's Overview had no metric on CI)."""
    secrets_singleton._reset()
    yield
    secrets_singleton._reset()


@pytest.mark.usefixtures("secrets_forgotten")
def test_the_log_in_button_starts_the_oidc_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As deploy/components/dashboard mounts it: $HOME/.streamlit/secrets.toml, which the login
    reads (not AppTest's secrets: Streamlit's auth reads the file)."""
    (tmp_path / ".streamlit").mkdir()
    lines = "".join(f'{key} = "{value}"\n' for key, value in AUTH.items())
    (tmp_path / ".streamlit" / "secrets.toml").write_text(f"[auth]\n{lines}")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}  # a visitor, as the server's websocket says
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (button,) = [b for b in at.button if b.label == "Log in"]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_dashboard_extra_installs_what_the_login_needs() -> None:
    """A fresh `pip install 'gapwatch[dashboard]'` (the dashboard image) has Authlib."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    streamlit = [r for r in project["optional-dependencies"]["dashboard"] if "streamlit" in r]
    assert streamlit and streamlit[0].startswith("streamlit[auth]"), streamlit
    pins = (ROOT / "deploy" / "constraints.txt").read_text().lower().split()
    assert any(p.startswith("authlib==") for p in pins)
