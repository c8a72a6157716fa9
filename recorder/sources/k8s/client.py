"""How the recorder reaches the Kubernetes API: the client's configuration, aiohttp's transport.

The `kubernetes` package loads the configuration (in-cluster service account first, then a
kubeconfig; its own `load_config` prefers ~/.kube/config and prints, so it is not used) and keeps
the in-cluster token fresh. Requests go through aiohttp: one asyncio loop streams every watch with
a per-read timeout, and raw JSON never becomes the client's slow model objects.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from gapwatch.recorder.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ApiEndpoint:
    """Where the API is and how to authenticate: a base URL, TLS context, an auth header."""

    host: str
    ssl_context: ssl.SSLContext | None = None
    token: Callable[[], str | None] = field(default=lambda: None)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        value = self.token()
        if value:
            headers["Authorization"] = value
        return headers


def load_configuration(
    *, kubeconfig: str | None, context: str | None = None, fail: Callable[[str], Exception]
) -> Any:
    """The `kubernetes` client's Configuration from the in-cluster service account, else from a
    kubeconfig (`kubeconfig` given: that file only). When neither loads, raises `fail(why)`."""
    import yaml
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        if kubeconfig is not None:
            raise ConfigException("a kubeconfig was given")
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=cfg
            )
        except (ConfigException, OSError, yaml.YAMLError) as exc:  # YAML: not a kubeconfig
            # not chained: the loader's frames hold the kubeconfig's tokens and keys, and the
            # recorder's logged tracebacks show frame locals (structlog's dict_tracebacks)
            why = " ".join(str(exc).split())  # one line: YAML's errors span three
            raise fail(f"{why}{_files_read(kubeconfig)}") from None
    _trim_tokens(cfg)
    return cfg


def _files_read(kubeconfig: str | None) -> str:
    """Which kubeconfig files were read, and from where, for the error when none loaded: the
    loader's `Invalid kube-config file. No configuration found.` named no file, so a mistyped
    KUBECONFIG or --kubeconfig read as a broken cluster."""
    if kubeconfig is not None:
        paths, origin = [kubeconfig], "kubeconfig"
    elif os.environ.get("KUBECONFIG"):
        paths, origin = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p], "KUBECONFIG"
    else:
        paths, origin = ["~/.kube/config"], "the default"
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    said = f" (read {', '.join(paths)}, {origin}"
    return said + (f"; no such file: {', '.join(missing)})" if missing else ")")


def _trim_tokens(cfg: Any) -> None:
    """Strip the whitespace around the bearer token, now and after every refresh of it.

    A token file often ends with a newline (`echo ... > token`). client-go trims it
    (transport/token_source.go, `strings.TrimSpace`); the Python client sends it, and aiohttp
    and urllib3 refuse the header ("Forbidden control character") before any request is made:
    the recorder retried that forever and recorded nothing. The client re-reads the token in
    its `refresh_api_key_hook` (before each request), which installs itself again: the trim runs
    after it and puts itself back."""
    refresh = cfg.refresh_api_key_hook

    def trimmed(configuration: Any) -> None:
        if refresh is not None:
            refresh(configuration)
        configuration.api_key = {
            key: value.strip() if isinstance(value, str) else value
            for key, value in (configuration.api_key or {}).items()
        }
        configuration.refresh_api_key_hook = trimmed

    trimmed(cfg)


def load_endpoint(*, kubeconfig: str | None = None, context: str | None = None) -> ApiEndpoint:
    """The API endpoint from the in-cluster service account, else from a kubeconfig."""
    cfg = load_configuration(
        kubeconfig=kubeconfig,
        context=context,
        fail=lambda why: ConfigError(
            f"no Kubernetes configuration (in-cluster or kubeconfig): {why}"
        ),
    )
    context_ssl: ssl.SSLContext | None = None
    if cfg.host.startswith("https"):
        context_ssl = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file:
            context_ssl.load_cert_chain(cfg.cert_file, cfg.key_file)
        if not cfg.verify_ssl:
            context_ssl.check_hostname = False
            context_ssl.verify_mode = ssl.CERT_NONE

    def token() -> str | None:
        # The client's own auth settings (they run its token refresh hook): the header value,
        # whatever the key's name in this client version ("BearerToken", "authorization").
        settings: Mapping[str, Mapping[str, Any]] = cast(Any, cfg.auth_settings())
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("key", "").lower() == "authorization":
                value = setting.get("value")
                return str(value) if value else None
        return None

    return ApiEndpoint(host=cfg.host.rstrip("/"), ssl_context=context_ssl, token=token)
