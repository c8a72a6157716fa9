"""The Alibaba SDK's HTTP session, capped before its first call (lb/sizecap.py's adapter).

darabonba-core, under the Alibaba SDK, sends every call through a `requests.Session` it keeps in
a class-wide cache (`DaraCore._sessions`), made at the first call of each key
`PROTOCOL://HOST:PORT:pool=SIZE` and reached by no client or option; it reads an answer whole
(`Response.content`, gzip undone whole): session 36 measured a 256 MiB answer at 1,083 MB and a
gzip bomb of 256 MiB decoded at 1,081 MB. `cap_alibaba` puts the session there first, under the
key the client's calls ask for, made by darabonba itself (`DaraCore._get_session`: its TLS
adapter, its pool size), with `cap_session`'s adapter mounted on it.

Private API, darabonba-core 1.0.9: the cache, `_get_session`, the key's shape (`do_action`) and
the client's `_endpoint`, `_protocol`, `_max_idle_conns`, `_tls_min_version`.
tests/lb/test_library_contracts.py fails by name if an upgrade moves the cache or asks for
another key, and tests/lb/test_cloud_answers.py if the SDK stops sending through it.

The cache is the process's: two clients of one endpoint share a session, and its cap is the
smaller of theirs (`cap_session`).
"""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sources.lb.sizecap import cap_session


def session_key(client: Any) -> str:
    """The cache key an Alibaba `client`'s calls ask for: darabonba's `do_action` builds it from
    the request's protocol, its `host` header (the endpoint), its port (a `DaraRequest`'s 80,
    never set by the SDK) and the pool size its runtime resolves."""
    from darabonba.request import DaraRequest

    protocol = str(client._protocol or "https").lower()
    host = str(client._endpoint).rstrip("/")
    return f"{protocol}://{host}:{DaraRequest().port}:pool={_pool_size(client)}"


def _pool_size(client: Any) -> int:
    """The pool size darabonba's runtime resolves from `client`'s idle connections."""
    from darabonba.core import DaraCore

    return int(DaraCore._resolve_pool_maxsize({"maxIdleConns": client._max_idle_conns}))


def cap_alibaba(client: Any, max_bytes: int) -> None:
    """Every answer `client` reads, past `max_bytes` decoded: refused (lb/sizecap.py)."""
    from darabonba.core import DaraCore

    tls = client._tls_min_version
    session = DaraCore._get_session(
        session_key=session_key(client),
        protocol=str(client._protocol or "https"),
        tls_min_version=getattr(tls, "value", tls),  # do_action takes an Enum's value
        verify=True,
        pool_size=_pool_size(client),
    )
    cap_session(session, max_bytes)
