"""Who may reach the dashboard: loopback by default; any other address only behind a login.

The dashboard shows the whole event log and has a SQL console, and Streamlit itself has no
authentication. `gapwatch dashboard --address 0.0.0.0` is refused unless one of these is set up
(docs/dashboard.md, deploy/README.md):

- Streamlit's built-in OIDC login: an `[auth]` section in `.streamlit/secrets.toml` (the working
  directory's or `~/.streamlit/`); the app then asks every visitor to log in (`st.login`).
- An authenticating reverse proxy (oauth2-proxy, an ingress with external auth) in front of it:
  say so with `GAPWATCH_DASHBOARD_AUTH=proxy`, and keep the dashboard's own port unreachable
  except from the proxy (deploy/components/dashboard-proxy narrows
  deploy/components/dashboard/networkpolicy.yaml to it).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from gapwatch.recorder.errors import ConfigError

PROXY_ENV = "GAPWATCH_DASHBOARD_AUTH"


def is_loopback(address: str) -> bool:
    """Whether `address` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def secrets_files(cwd: Path, home: Path) -> list[Path]:
    """Where Streamlit looks for secrets.toml, in its order."""
    return [home / ".streamlit" / "secrets.toml", cwd / ".streamlit" / "secrets.toml"]


def oidc_configured(files: list[Path]) -> bool:
    """Whether any secrets file has an `[auth]` section (its values are never read out)."""
    for file in files:
        try:
            data = tomllib.loads(file.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(data.get("auth"), dict) and data["auth"]:
            return True
    return False


def auth_mode(env: Mapping[str, str], files: list[Path]) -> str | None:
    """'proxy', 'oidc' or None (no authentication in front of the dashboard)."""
    if env.get(PROXY_ENV, "").strip().lower() == "proxy":
        return "proxy"
    return "oidc" if oidc_configured(files) else None


def check_address(address: str, *, env: Mapping[str, str] | None = None,
                  files: list[Path] | None = None) -> str | None:  # fmt: skip
    """Raise ConfigError for a non-loopback address without authentication; the auth mode."""
    env = os.environ if env is None else env
    files = secrets_files(Path.cwd(), Path.home()) if files is None else files
    mode = auth_mode(env, files)
    if mode is None and not is_loopback(address):
        raise ConfigError(
            f"--address {address} would publish the event log and its SQL console without a "
            "login: configure Streamlit's OIDC login ([auth] in .streamlit/secrets.toml) or put "
            f"an authenticating proxy in front and set {PROXY_ENV}=proxy (docs/dashboard.md)"
        )
    return mode
