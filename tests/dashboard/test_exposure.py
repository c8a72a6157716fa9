"""The dashboard refuses to listen beyond loopback without a login (real CLI, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.exposure import check_address, is_loopback
from gapwatch.recorder.errors import ConfigError


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_needs_nothing(address: str) -> None:
    assert is_loopback(address)
    assert check_address(address, env={}, files=[]) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.5", "dashboard.example"])
def test_other_addresses_need_a_login(address: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without a login"):
        check_address(address, env={}, files=[tmp_path / "missing.toml"])
    assert check_address(address, env={"GAPWATCH_DASHBOARD_AUTH": "proxy"}, files=[]) == "proxy"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError):
        check_address(address, env={}, files=[secrets])
    secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\ncookie_secret = "s"\n')
    assert check_address(address, env={}, files=[secrets]) == "oidc"


def test_the_command_refuses_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GAPWATCH_DASHBOARD_AUTH", raising=False)
    result = CliRunner().invoke(app, ["dashboard", "--address", "0.0.0.0", "--db",
                                      f"sqlite:///{tmp_path / 'x.db'}"])  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened
